"""The standard library: one declarative table.

Every function of a library namespace (`Math.abs(x)`) and every method on a
built-in type (`s.length()`, `xs.size()`) is one row of `ROWS`:

    (owner, signature, effect, description)

`owner` is a namespace (`Math`, `Time`, ...) or a receiver pattern written as
a type with variables (`string`, `maybe<T>`, `list<T>`, `T[]`, `map<K, V>`).
`signature` is `name(param types) -> result`, where the types may use the
receiver's variables; a trailing `where T numeric` (or `record`) constrains a
variable. `effect` says what the call touches, which decides where it may be
used:

    pure      nothing outside its arguments
    time      reads the transaction's clock (deterministic, but not pure)
    random    draws from the document's random stream (state it advances)
    document  reads document metadata (key, space)
    writes    changes document state (deletes a row, clears a maybe, ...)
    destroy   destroys the document
    viewstate tells the sender's connection (ViewState): bodies with a sender that may change the document
    await     blocks until a future resolves (state blocks only)

The checker, spec/library.md (`render_markdown`) and code generation all read
this table; the VM implements each row under the key `owner.name`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import types as T

ROWS: list[tuple[str, str, str, str]] = [
    # ---- Math: numbers. Narrowing (double -> int) only happens here.
    ("Math", "abs(int) -> int", "pure", "absolute value"),
    ("Math", "abs(long) -> long", "pure", "absolute value"),
    ("Math", "abs(double) -> double", "pure", "absolute value"),
    ("Math", "sqrt(double) -> double", "pure", "square root (NaN for negatives)"),
    ("Math", "pow(double, double) -> double", "pure", "x raised to the power y"),
    ("Math", "floor(double) -> double", "pure", "largest whole number not above x"),
    ("Math", "ceil(double) -> double", "pure", "smallest whole number not below x"),
    ("Math", "round(double) -> double", "pure", "nearest whole number, halves away from zero"),
    ("Math", "min(int, int) -> int", "pure", "the smaller value"),
    ("Math", "min(long, long) -> long", "pure", "the smaller value"),
    ("Math", "min(double, double) -> double", "pure", "the smaller value"),
    ("Math", "max(int, int) -> int", "pure", "the larger value"),
    ("Math", "max(long, long) -> long", "pure", "the larger value"),
    ("Math", "max(double, double) -> double", "pure", "the larger value"),
    ("Math", "toInt(double) -> int", "pure", "truncate toward zero, wrapping to 32 bits"),
    ("Math", "toInt(long) -> int", "pure", "keep the low 32 bits"),
    ("Math", "toLong(double) -> long", "pure", "truncate toward zero, wrapping to 64 bits"),
    ("Math", "sin(double) -> double", "pure", "sine (radians)"),
    ("Math", "cos(double) -> double", "pure", "cosine (radians)"),
    ("Math", "tan(double) -> double", "pure", "tangent (radians)"),
    ("Math", "asin(double) -> double", "pure", "arc sine, in radians (NaN outside [-1, 1])"),
    ("Math", "acos(double) -> double", "pure", "arc cosine, in radians (NaN outside [-1, 1])"),
    ("Math", "atan(double) -> double", "pure", "arc tangent, in radians"),
    ("Math", "atan2(double, double) -> double", "pure", "the angle of the point (x = second, y = first), in radians"),
    ("Math", "sinh(double) -> double", "pure", "hyperbolic sine"),
    ("Math", "cosh(double) -> double", "pure", "hyperbolic cosine"),
    ("Math", "tanh(double) -> double", "pure", "hyperbolic tangent"),
    ("Math", "exp(double) -> double", "pure", "e raised to x"),
    ("Math", "expm1(double) -> double", "pure", "e raised to x, minus 1 (exact near 0)"),
    ("Math", "log(double) -> double", "pure", "natural logarithm (NaN below 0, -infinity at 0)"),
    ("Math", "log10(double) -> double", "pure", "base-10 logarithm"),
    ("Math", "log1p(double) -> double", "pure", "natural logarithm of 1 + x (exact near 0)"),
    ("Math", "cbrt(double) -> double", "pure", "cube root"),
    ("Math", "hypot(double, double) -> double", "pure", "sqrt(x*x + y*y) without overflow"),
    ("Math", "IEEEremainder(double, double) -> double", "pure", "x - y*n for the n nearest x/y (IEEE 754)"),
    ("Math", "copySign(double, double) -> double", "pure", "the size of the first with the sign of the second"),
    ("Math", "signum(double) -> double", "pure", "-1.0, 0.0 or 1.0 by the sign of x"),
    ("Math", "ulp(double) -> double", "pure", "the distance to the next larger double"),
    ("Math", "getExponent(double) -> double", "pure", "the unbiased binary exponent of x"),
    ("Math", "radians(double) -> double", "pure", "degrees to radians"),
    ("Math", "degrees(double) -> double", "pure", "radians to degrees"),
    ("Math", "sign(int) -> int", "pure", "-1, 0 or 1 by the sign of x"),
    ("Math", "sign(long) -> int", "pure", "-1, 0 or 1 by the sign of x"),
    ("Math", "sign(double) -> int", "pure", "-1, 0 or 1 by the sign of x (0 for NaN)"),
    ("Math", "isInfinite(double) -> bool", "pure", "whether x is +infinity or -infinity"),
    ("Math", "isNaN(double) -> bool", "pure", "whether x is not a number"),
    ("Math", "valid(double) -> maybe<double>", "pure", "x, or empty when it is infinite or NaN"),
    ("Math", "floor(double, double) -> double", "pure", "round down to a multiple of the precision"),
    ("Math", "ceil(double, double) -> double", "pure", "round up to a multiple of the precision"),
    ("Math", "round(double, double) -> double", "pure", "round to the nearest multiple of the precision"),
    ("Math", "roundTo(double, int) -> double", "pure", "round to the given number of decimal digits"),
    ("Math", "near(double, double) -> bool", "pure", "whether the two differ by less than 1e-7"),
    # ---- complex numbers (language.md 3.12; Adama's LibMath)
    ("Math", "near(complex, double) -> bool", "pure", "whether the real part is near the number and the imaginary near 0",
     "Math.near_cd"),
    ("Math", "near(complex, complex) -> bool", "pure", "whether both parts are near (less than 1e-7 apart)",
     "Math.near_cc"),
    ("Math", "conj(complex) -> complex", "pure", "the conjugate: the imaginary part negated"),
    ("Math", "length(complex) -> double", "pure", "the modulus, sqrt(re * re + im * im)"),
    ("Math", "abs(complex) -> double", "pure", "the modulus, as length", "Math.abs_c"),
    ("Math", "xor(bool, bool) -> bool", "pure", "exactly one of the two is true"),
    ("Math", "floorDiv(int, int) -> int", "pure", "division rounding toward -infinity (a runtime error on 0)"),
    ("Math", "floorDiv(long, long) -> long", "pure", "division rounding toward -infinity (a runtime error on 0)"),
    ("Math", "floorMod(int, int) -> int", "pure", "the remainder with the sign of the divisor (a runtime error on 0)"),
    ("Math", "floorMod(long, long) -> long", "pure", "the remainder with the sign of the divisor (a runtime error on 0)"),
    ("Math", "intOf(double) -> maybe<int>", "pure", "x truncated toward zero, or empty outside the int range"),
    ("Math", "longOf(double) -> maybe<long>", "pure", "x truncated toward zero, or empty outside the long range"),
    ("Math", "clampIntOf(double) -> int", "pure", "x truncated toward zero and clamped to the int range"),
    # ---- Random: the document's seeded stream (its state is part of the document).
    ("Random", "genInt() -> int", "random", "any 32-bit int"),
    ("Random", "genBoundInt(int) -> int", "random", "an int in [0, bound); 0 when bound <= 0"),
    ("Random", "genLong() -> long", "random", "any 64-bit long"),
    ("Random", "genDouble() -> double", "random", "a double in [0, 1)"),
    ("Random", "genBool() -> bool", "random", "true or false, evenly"),
    ("Random", "getDoubleGaussian() -> double", "random", "a normally distributed double (mean 0, deviation 1)"),
    # ---- Time: the transaction's clock, in the document's time zone.
    ("Time", "now() -> long", "time", "milliseconds since the UNIX epoch"),
    ("Time", "datetime() -> datetime", "time", "the current date and time"),
    ("Time", "today() -> date", "time", "the current date"),
    ("Time", "date() -> date", "time", "the current date (same as today())"),
    ("Time", "time() -> time", "time", "the current time of day"),
    ("Time", "zone() -> string", "time", "the document's time zone"),
    ("Time", "setZone(string) -> bool", "writes", "set the document's time zone; false if unknown"),
    ("Time", "make(int, int) -> maybe<time>", "pure", "a time of day from hour and minute"),
    ("Time", "toInt(time) -> int", "pure", "minutes since midnight"),
    ("Time", "extendWithinDay(time, timespan) -> time", "pure", "the time plus the span, kept within the day (00:00 to 23:59)"),
    ("Time", "cyclicAdd(time, timespan) -> time", "pure", "the time plus the span, around the clock"),
    ("Time", "overlaps(time, time, time, time) -> bool", "pure", "whether the ranges [a, b] and [c, d] share a minute"),
    # ---- Date: calendar arithmetic.
    ("Date", "make(int, int, int) -> maybe<date>", "pure", "a date from year, month, day"),
    ("Date", "dayOfWeek(date) -> int", "pure", "1 = Monday ... 7 = Sunday"),
    ("Date", "offsetDay(date, int) -> date", "pure", "add (or subtract) days"),
    ("Date", "offsetMonth(date, int) -> date", "pure", "add (or subtract) months"),
    ("Date", "date(datetime) -> date", "pure", "the date part"),
    ("Date", "time(datetime) -> time", "pure", "the time-of-day part"),
    ("Date", "between(datetime, datetime) -> timespan", "pure", "the time from the first to the second"),
    ("Date", "future(datetime, timespan) -> datetime", "pure", "a later datetime"),
    ("Date", "past(datetime, timespan) -> datetime", "pure", "an earlier datetime"),
    ("Date", "construct(date, time, double, string) -> maybe<datetime>",
     "pure", "the datetime of a date, a time, seconds and a time zone; empty if the zone is unknown"),
    ("Date", "dayOfWeekEnglish(date) -> string", "pure", "the weekday's English name: Monday ... Sunday"),
    ("Date", "monthNameEnglish(date) -> string", "pure", "the month's English name: January ... December"),
    ("Date", "calendarViewOf(date) -> list<date>",
     "pure", "the month of the date as whole weeks from Sunday: leading days of the previous month, then to a multiple of 7"),
    ("Date", "weekViewOf(date) -> list<date>", "pure", "the seven days of the date's week, Sunday first"),
    ("Date", "neighborViewOf(date, int) -> list<date>", "pure", "the n days before, the date, and the n days after"),
    ("Date", "patternOf(bool, bool, bool, bool, bool, bool, bool) -> int",
     "pure", "a weekly pattern from seven flags, Monday first"),
    ("Date", "satisfiesWeeklyPattern(date, int) -> bool", "pure", "whether the date's weekday is in the pattern"),
    ("Date", "inclusiveRange(date, date) -> list<date>", "pure", "every date from the first to the second"),
    ("Date", "inclusiveRangeSatisfiesWeeklyPattern(date, date, int) -> list<date>",
     "pure", "every date from the first to the second whose weekday is in the pattern"),
    ("Date", "periodYearsFractional(date, date) -> double", "pure", "whole years and months between, in years"),
    ("Date", "periodMonths(date, date) -> int", "pure", "whole months from the first to the second"),
    ("Date", "format(datetime, string) -> maybe<string>",
     "pure", "the datetime written by a pattern (Java's letters: yyyy MM dd HH mm ss...); empty for a bad pattern"),
    ("Date", "format(datetime, string, string) -> maybe<string>",
     "pure", "the same in a language; advm writes English names whatever the language"),
    ("Date", "adjustTimeZone(datetime, string) -> maybe<datetime>",
     "pure", "the same instant in another time zone; empty if the zone is unknown"),
    # ---- TimeSpan
    ("TimeSpan", "add(timespan, timespan) -> timespan", "pure", "the two lengths together"),
    ("TimeSpan", "multiply(timespan, double) -> timespan", "pure", "the length scaled"),
    ("TimeSpan", "seconds(timespan) -> double", "pure", "length in seconds"),
    ("TimeSpan", "minutes(timespan) -> double", "pure", "length in minutes"),
    ("TimeSpan", "hours(timespan) -> double", "pure", "length in hours"),
    # ---- String
    ("String", "charOf(int) -> string", "pure",
     "the one-character string of a code point; empty for a surrogate or a number past U+10FFFF"),
    ("String", "join(list<string>, string) -> string", "pure", "the items with the separator between them"),
    ("String", "join(string[], string) -> string", "pure", "the items with the separator between them"),
    ("String", "concat(list<string>) -> string", "pure", "the items one after another"),
    ("String", "concat(string[]) -> string", "pure", "the items one after another"),
    ("String", "replaceAll(string, string, string) -> string", "pure", "every occurrence of the second replaced by the third"),
    ("String", "removeAll(string, string) -> string", "pure", "every occurrence of the second removed"),
    ("String", "codepointAt(string, int) -> maybe<int>", "pure", "the code point at a position; empty outside the string"),
    ("String", "codepoints(string) -> list<int>", "pure", "every code point, in order"),
    ("String", "to_roman(int) -> string", "pure", "the number in Roman numerals (empty for 0 and below)"),
    ("String", "compare(string, string) -> int", "pure", "negative, 0 or positive as the first sorts before, with or after"),
    ("String", "equality(string, string) -> bool", "pure", "whether the two are the same text"),
    ("String", "intOf(string) -> maybe<int>", "pure", "the int the text spells (decimal, optional sign); empty otherwise"),
    ("String", "longOf(string) -> maybe<long>", "pure", "the long the text spells (decimal, optional sign); empty otherwise"),
    ("String", "doubleOf(string) -> maybe<double>", "pure", "the double the text spells; empty otherwise"),
    # ---- Statistics: on lists of numbers, empty when the list is
    ("Statistics", "sum(list<int>) -> maybe<int>", "pure", "the total; empty for no items", "Statistics.sum_i"),
    ("Statistics", "sum(list<long>) -> maybe<long>", "pure", "the total; empty for no items", "Statistics.sum_l"),
    ("Statistics", "sum(list<double>) -> maybe<double>", "pure", "the total; empty for no items", "Statistics.sum_d"),
    ("Statistics", "average(list<int>) -> maybe<double>", "pure", "the mean; empty for no items"),
    ("Statistics", "average(list<long>) -> maybe<double>", "pure", "the mean; empty for no items"),
    ("Statistics", "average(list<double>) -> maybe<double>", "pure", "the mean; empty for no items"),
    ("Statistics", "minimum(list<int>) -> maybe<int>", "pure", "the smallest item; empty for no items"),
    ("Statistics", "minimum(list<long>) -> maybe<long>", "pure", "the smallest item; empty for no items"),
    ("Statistics", "minimum(list<double>) -> maybe<double>", "pure", "the smallest item; empty for no items"),
    ("Statistics", "maximum(list<int>) -> maybe<int>", "pure", "the largest item; empty for no items"),
    ("Statistics", "maximum(list<long>) -> maybe<long>", "pure", "the largest item; empty for no items"),
    ("Statistics", "maximum(list<double>) -> maybe<double>", "pure", "the largest item; empty for no items"),
    ("Statistics", "median(list<int>) -> maybe<int>",
     "pure", "the middle item; for an even count the mean of the two middle ones, truncated", "Statistics.median_i"),
    ("Statistics", "median(list<long>) -> maybe<long>",
     "pure", "the middle item; for an even count the mean of the two middle ones, truncated", "Statistics.median_l"),
    ("Statistics", "median(list<double>) -> maybe<double>",
     "pure", "the middle item; for an even count the mean of the two middle ones", "Statistics.median_d"),
    ("Statistics", "percentile(list<int>, double) -> maybe<int>",
     "pure", "the item at that fraction (0 to 1) of the sorted items; empty outside [0, 1]"),
    ("Statistics", "percentile(list<long>, double) -> maybe<long>",
     "pure", "the item at that fraction (0 to 1) of the sorted items; empty outside [0, 1]"),
    ("Statistics", "percentile(list<double>, double) -> maybe<double>",
     "pure", "the item at that fraction (0 to 1) of the sorted items; empty outside [0, 1]"),
    ("Statistics", "variance(list<int>) -> maybe<double>", "pure",
     "the mean squared distance from the mean (of the whole population); empty for no items"),
    ("Statistics", "variance(list<long>) -> maybe<double>", "pure",
     "the mean squared distance from the mean (of the whole population); empty for no items"),
    ("Statistics", "variance(list<double>) -> maybe<double>", "pure",
     "the mean squared distance from the mean (of the whole population); empty for no items"),
    ("Statistics", "stddev(list<int>) -> maybe<double>", "pure",
     "the standard deviation, the square root of the variance; empty for no items"),
    ("Statistics", "stddev(list<long>) -> maybe<double>", "pure",
     "the standard deviation, the square root of the variance; empty for no items"),
    ("Statistics", "stddev(list<double>) -> maybe<double>", "pure",
     "the standard deviation, the square root of the variance; empty for no items"),
    ("Statistics", "range(list<int>) -> maybe<int>", "pure", "the largest item less the smallest; empty for no items",
     "Statistics.range_i"),
    ("Statistics", "range(list<long>) -> maybe<long>", "pure", "the largest item less the smallest; empty for no items",
     "Statistics.range_l"),
    ("Statistics", "range(list<double>) -> maybe<double>", "pure",
     "the largest item less the smallest; empty for no items", "Statistics.range_d"),
    # ---- Dynamic: reading JSON values (Adama's LibDynamic); each gives a maybe
    ("Dynamic", "str(dynamic) -> maybe<string>", "pure", "the value as text (strings, numbers and bools)"),
    ("Dynamic", "i(dynamic) -> maybe<int>", "pure", "the value when it is a whole number in the int range"),
    ("Dynamic", "l(dynamic) -> maybe<long>", "pure", "the value when it is a whole number in the long range"),
    ("Dynamic", "d(dynamic) -> maybe<double>", "pure", "the value when it is a number"),
    ("Dynamic", "b(dynamic) -> maybe<bool>", "pure", "the value when it is a bool (or the text true/false)"),
    ("Dynamic", "str(dynamic, string) -> maybe<string>", "pure", "a field of an object as text"),
    ("Dynamic", "i(dynamic, string) -> maybe<int>", "pure", "a field of an object as an int (numbers or digits)"),
    ("Dynamic", "l(dynamic, string) -> maybe<long>", "pure", "a field of an object as a long (numbers or digits)"),
    ("Dynamic", "d(dynamic, string) -> maybe<double>", "pure", "a field of an object as a double (numbers or text)"),
    ("Dynamic", "b(dynamic, string) -> maybe<bool>", "pure", "a field of an object as a bool (bools or true/false)"),
    ("Dynamic", "is_null(dynamic, string) -> maybe<bool>",
     "pure", "whether an object's field is null; empty when there is no such field"),
    ("Dynamic", "dyn(int) -> dynamic", "pure", "the number as a JSON value"),
    ("Dynamic", "dyn(long) -> dynamic", "pure", "the number as a JSON value"),
    ("Dynamic", "dyn(double) -> dynamic", "pure", "the number as a JSON value"),
    ("Dynamic", "dyn(bool) -> dynamic", "pure", "the bool as a JSON value", "Dynamic.dyn_b"),
    ("Dynamic", "dyn(string) -> dynamic", "pure", "the text as a JSON string"),
    ("Dynamic", "toDynamic(string) -> maybe<dynamic>", "pure", "the JSON the text holds; empty when it is not JSON"),
    # ---- assets (Adama's NtAsset): an uploaded file's facts (language.md 4.29)
    ("asset", "id() -> string", "pure", "the asset's id: its bytes' SHA-384 in hex (empty for no asset)"),
    ("asset", "name() -> string", "pure", "the file name the uploader gave"),
    ("asset", "type() -> string", "pure", "the content type the uploader gave"),
    ("asset", "size() -> long", "pure", "the size in bytes"),
    ("asset", "md5() -> string", "pure", "the bytes' MD5 in hex"),
    ("asset", "sha384() -> string", "pure", "the bytes' SHA-384 in hex"),
    ("asset", "valid() -> bool", "pure", "whether it is an uploaded asset (a field's default is not)"),
    # ---- json values (Adama's NtJson): read by path and by kind
    ("json", "to_dynamic() -> dynamic", "pure", "the same JSON value as a dynamic"),
    # ---- Adama's collaborative text (language.md 3.13.1); `t.append(seq, changes)` writes the field
    ("text", "get() -> string", "pure", "the text now: its lines with every change applied"),
    ("json", "deref(string) -> json", "pure", "the field of an object (null when it is no object or lacks it)"),
    ("json", "deref(int) -> json", "pure", "the item of an array at an index from 0 (null when there is none)"),
    ("json", "to_b() -> maybe<bool>", "pure", "the value when it is a bool"),
    ("json", "to_i() -> maybe<int>", "pure", "the value when it is a whole number in the int range"),
    ("json", "to_s() -> maybe<string>", "pure", "the value when it is a string"),
    # ---- Principal
    ("Principal", "isAnonymous(principal) -> bool", "pure", "whether this is an anonymous visitor"),
    ("Principal", "isAdamaDeveloper(principal) -> bool", "pure", "whether this is a platform developer (authority adama)"),
    ("Principal", "isOverlord(principal) -> bool", "pure", "whether the authority is overlord"),
    ("Principal", "isAdamaHost(principal) -> bool", "pure", "whether the authority is region (a host of the platform)"),
    ("Principal", "fromAuthority(principal, string) -> bool", "pure", "whether the principal was issued by the authority"),
    ("Principal", "agent(principal) -> string", "pure", "the agent (user) part"),
    ("Principal", "authority(principal) -> string", "pure", "the authority part"),
    # ---- Document: about this document, and ending it.
    ("Document", "key() -> string", "document", "this document's key"),
    ("Document", "space() -> string", "document", "this document's space"),
    ("Document", "seq() -> int", "document", "how many transactions the document committed before the running one "
     "(0 in `@construct`); every committed input counts (a connect, a message, a transition, a timer), a failed "
     "one does not; kept with the document across restarts and replays"),
    ("Document", "destroy() -> void", "destroy", "delete this document after the transaction (like @destroy)"),
    # ---- ViewState (Adama's): tell the sender's connection, once the message commits (language.md 5.23)
    ("ViewState", "merge(dynamic) -> bool", "viewstate",
     "merge the object into the sender's viewer state (its client's `view` fields), after the message commits; "
     "true in a message's code (the sender is told), false elsewhere"),
    ("ViewState", "goto(string) -> bool", "viewstate",
     "send the sender's client to a path, after the message commits; true in a message's code, false elsewhere"),
    # ---- methods on numbers
    ("int", "abs() -> int", "pure", "absolute value"),
    ("long", "abs() -> long", "pure", "absolute value"),
    ("double", "abs() -> double", "pure", "absolute value"),
    ("double", "sqrt() -> double", "pure", "square root"),
    ("double", "floor() -> double", "pure", "round down"),
    ("double", "ceil() -> double", "pure", "round up"),
    ("double", "round() -> double", "pure", "round to nearest"),
    ("double", "roundTo(int) -> double", "pure", "round to the given number of decimal digits"),
    # ---- methods on strings
    ("string", "length() -> int", "pure", "number of characters"),
    ("string", "split(string) -> list<string>", "pure", "the parts between occurrences of the separator"),
    ("string", "contains(string) -> bool", "pure", "whether the word occurs"),
    ("string", "indexOf(string) -> int", "pure", "first position of the word, -1 if absent"),
    ("string", "indexOf(string, int) -> int", "pure", "first position at or after the offset, -1 if absent"),
    ("string", "trim() -> string", "pure", "without leading and trailing whitespace"),
    ("string", "trimLeft() -> string", "pure", "without leading whitespace"),
    ("string", "trimRight() -> string", "pure", "without trailing whitespace"),
    ("string", "upper() -> string", "pure", "upper case"),
    ("string", "lower() -> string", "pure", "lower case"),
    ("string", "mid(int, int) -> maybe<string>", "pure", "length characters from start"),
    ("string", "left(int) -> maybe<string>", "pure", "the first n characters"),
    ("string", "right(int) -> maybe<string>", "pure", "the last n characters"),
    ("string", "substr(int, int) -> maybe<string>", "pure", "characters from start up to (not including) end"),
    ("string", "startsWith(string) -> bool", "pure", "whether it begins with the prefix"),
    ("string", "endsWith(string) -> bool", "pure", "whether it ends with the suffix"),
    ("string", "multiply(int) -> string", "pure", "the string repeated n times"),
    ("string", "reverse() -> string", "pure", "the characters in reverse order"),
    # ---- methods on principals
    ("principal", "isAnonymous() -> bool", "pure", "whether this is an anonymous visitor"),
    ("principal", "isAdamaDeveloper() -> bool", "pure", "whether this is a platform developer"),
    ("principal", "fromAuthority(string) -> bool", "pure", "whether the principal was issued by the authority"),
    ("principal", "agent() -> string", "pure", "the agent (user) part"),
    ("principal", "authority() -> string", "pure", "the authority part"),
    # ---- methods on timespans
    ("timespan", "seconds() -> double", "pure", "length in seconds"),
    ("timespan", "minutes() -> double", "pure", "length in minutes"),
    ("timespan", "hours() -> double", "pure", "length in hours"),
    # ---- maybe<T>
    ("maybe<T>", "has() -> bool", "pure", "whether a value is present"),
    ("maybe<T>", "getOrDefaultTo(T) -> T", "pure", "the value, or the given default when empty"),
    ("maybe<T>", "delete() -> void", "writes", "make a maybe field empty"),
    # ---- sequences: list<T> and T[] share these rows (see SEQUENCE_OWNERS)
    ("sequence<T>", "size() -> int", "pure", "number of items"),
    ("sequence<T>", "reverse() -> list<T>", "pure", "the items in reverse order"),
    ("sequence<T>", "toArray() -> T[]", "pure", "the items as an array"),
    ("sequence<T>", "skip(int) -> list<T>", "pure", "the items after the first n"),
    ("sequence<T>", "drop(int) -> list<T>", "pure", "the items without the last n"),
    ("sequence<T>", "delete() -> void where T record", "writes", "delete every row in the list from its table"),
    ("sequence<T>", "sum() -> maybe<T> where T numeric", "pure", "the total; empty when there are no items"),
    ("sequence<T>", "average() -> maybe<double> where T numeric", "pure", "the mean; empty when there are no items"),
    ("sequence<T>", "min() -> maybe<T> where T numeric", "pure", "the smallest item; empty when there are none"),
    ("sequence<T>", "max() -> maybe<T> where T numeric", "pure", "the largest item; empty when there are none"),
    # ---- map<K, V>
    ("map<K, V>", "size() -> int", "pure", "number of entries"),
    ("map<K, V>", "has(K) -> bool", "pure", "whether the key is present"),
    ("map<K, V>", "remove(K) -> maybe<V>", "writes", "remove the key, giving its old value"),
    ("map<K, V>", "clear() -> void", "writes", "remove every entry"),
    ("map<K, V>", "insert(map<K, V>) -> map<K, V>", "writes", "put every entry of the other map into this one (its values win); gives this map"),
    # ---- table<R>
    ("table<T>", "size() -> int", "pure", "number of rows"),
    ("table<T>", "delete() -> void", "writes", "delete every row"),
    # ---- records (rows of a table)
    ("record", "delete() -> void", "writes", "delete this row from its table"),
    # ---- future<T>
    ("future<T>", "await() -> T", "await", "wait (durably) for the value; only in #state blocks"),
    # ---- result<T> (a service call, spec/language.md 4.27)
    ("result<T>", "has() -> bool", "pure", "the call succeeded and its value is here"),
    ("result<T>", "finished() -> bool", "pure", "the call is over (succeeded or failed)"),
    ("result<T>", "failed() -> bool", "pure", "the call is over and failed"),
    ("result<T>", "code() -> int", "pure", "the failure's code (0 while in flight or on success)"),
    ("result<T>", "message() -> string", "pure", "the failure's message (empty otherwise)"),
    ("result<T>", "as_maybe() -> maybe<T>", "pure", "the value, or empty while in flight or failed"),
    ("result<T>", "await() -> maybe<T>", "await", "wait (durably) for the call; empty if it failed; only in #state blocks"),
]

NAMESPACES = ("Math", "Random", "Time", "Date", "TimeSpan", "String", "Statistics", "Principal", "Dynamic",
              "Document", "ViewState")
SEQUENCE_OWNERS = ("list<T>", "T[]")

# Extension methods (Adama's rule): a pure function of these namespaces may also
# be called as a method of its first argument, when that argument's type is the
# parameter's type exactly: `x.sin()` is `Math.sin(x)`, `names.join(", ")` is
# `String.join(names, ", ")`. A built-in method of the same name and arity wins.
EXTENSION_NAMESPACES = ("Math", "Date", "Time", "TimeSpan", "String", "Statistics", "Principal", "Dynamic")
# Functions of those namespaces that are not extensions in Adama either.
NOT_EXTENSIONS = frozenset({"Date.make", "Time.make", "Time.overlaps", "Date.patternOf"})

# The other way round: a built-in method of these receiver types may also be
# called through the namespace with the receiver first: `String.trim(s)`.
STATIC_OWNERS = {"string": "String", "principal": "Principal", "timespan": "TimeSpan",
                 "int": "Math", "long": "Math", "double": "Math"}

# Constants of the namespaces: `Math.PI`.
CONSTANTS: dict[tuple[str, str], tuple[str, object]] = {
    ("Math", "PI"): ("double", 3.141592653589793),
    ("Math", "E"): ("double", 2.718281828459045),
    ("Math", "SQRT2"): ("double", 1.4142135623730951),
}

# Calls with these effects are not allowed in pure functions.
IMPURE_EFFECTS = frozenset({"time", "random", "document", "writes", "destroy", "await", "viewstate"})


@dataclass(frozen=True)
class LibEntry:
    """One row of the table, parsed. `key` names it for code generation."""

    owner: str
    name: str
    params: tuple[str, ...]
    result: str
    effect: str
    doc: str
    constraint: tuple[str, str] | None = None  # (variable, 'numeric' | 'record')
    host: str | None = None  # the implementation's key when it is not derived from the row

    @property
    def key(self) -> str:
        if self.host is not None:
            return self.host
        owner = "sequence" if self.owner == "sequence<T>" else self.owner.split("<")[0]
        return f"{owner}.{self.name}/{len(self.params)}"

    @property
    def signature(self) -> str:
        text = f"{self.name}({', '.join(self.params)}) -> {self.result}"
        if self.constraint:
            text += f" where {self.constraint[0]} {self.constraint[1]}"
        return text


_SIG = re.compile(r"^(\w+)\((.*)\)\s*->\s*(.+?)(?:\s+where\s+(\w+)\s+(\w+))?$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside angle brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    tail = "".join(cur).strip()
    if tail:
        parts.append(tail)
    return parts


def _parse_row(owner: str, sig: str, effect: str, doc: str, host: str | None = None) -> LibEntry:
    m = _SIG.match(sig)
    if not m:  # a typo in the table must fail loudly at import
        raise ValueError(f"bad library signature {sig!r}")
    name, params, result, var, kind = m.groups()
    params_t = tuple(_split_top(params))
    if host is not None:
        host = f"{host}/{len(params_t)}"
    return LibEntry(
        owner, name, params_t, result.strip(), effect, doc, (var, kind) if var else None, host
    )


ENTRIES: list[LibEntry] = [_parse_row(*row) for row in ROWS]


def parse_type(text: str, bindings: dict[str, T.Type]) -> T.Type:
    """Turn a signature type (`maybe<T>`, `T[]`, `list<string>`) into a Type."""
    text = text.strip()
    if text.endswith("[]"):
        return T.ArrayType(parse_type(text[:-2], bindings))
    if text in bindings:
        return bindings[text]
    if text == "void":
        return T.VOID
    if text in T.PRIMITIVES:
        return T.PRIMITIVES[text]
    if text == T.COMPLEX.name:
        return T.COMPLEX
    head, _, rest = text.partition("<")
    args = [parse_type(a, bindings) for a in _split_top(rest[:-1])] if rest else []
    ctor = {"maybe": T.MaybeType, "list": T.ListType, "future": T.FutureType, "result": T.ResultType, "map": T.MapType,
            "table": T.TableType}.get(head)
    if ctor is None:
        raise ValueError(f"bad library type {text!r}")
    return ctor(*args)


def _static_views() -> list[LibEntry]:
    """Built-in methods of STATIC_OWNERS seen as namespace functions (receiver first).
    Rows compiled inline keep their method form only."""
    out = []
    for e in ENTRIES:
        ns = STATIC_OWNERS.get(e.owner)
        if ns is None or e.key in _INLINE_KEYS:
            continue
        if any(x.owner == ns and x.name == e.name and x.params == (e.owner,) + e.params for x in ENTRIES):
            continue
        out.append(LibEntry(ns, e.name, (e.owner,) + e.params, e.result, e.effect, e.doc, e.constraint, e.key))
    return out


def _extension_views() -> list[LibEntry]:
    """Namespace functions of EXTENSION_NAMESPACES seen as methods of their first parameter."""
    out = []
    for e in ENTRIES:
        if e.owner not in EXTENSION_NAMESPACES or not e.params or e.effect != "pure" \
                or f"{e.owner}.{e.name}" in NOT_EXTENSIONS:
            continue
        recv = e.params[0]
        if any(x.owner == recv and x.name == e.name and len(x.params) == len(e.params) - 1 for x in ENTRIES):
            continue
        out.append(LibEntry(recv, e.name, e.params[1:], e.result, e.effect, e.doc, e.constraint, e.key))
    return out


# Rows that code generation compiles inline (compiler/gen_call.py INLINE).
INLINE_KEYS = _INLINE_KEYS = frozenset({"maybe.has/0", "maybe.getOrDefaultTo/1", "maybe.delete/0", "sequence.size/0",
                          "map.size/0", "map.has/1", "map.remove/1", "string.length/0", "table.size/0",
                          "future.await/0", "result.await/0"})
STATIC_VIEWS: list[LibEntry] = _static_views()
EXTENSION_VIEWS: list[LibEntry] = _extension_views()
# receiver type (parsed) -> its extension views
_EXTENSIONS_BY_TYPE: dict[T.Type, list[LibEntry]] = {}
for _e in EXTENSION_VIEWS:
    _EXTENSIONS_BY_TYPE.setdefault(parse_type(_e.owner, {}), []).append(_e)


# Lookups by name: the checker asks for every call, so they must not scan the table.
_BY_NAME: dict[str, list[LibEntry]] = {}
for _e in ENTRIES:
    _BY_NAME.setdefault(_e.name, []).append(_e)
_NS_BY_NAME: dict[tuple[str, str], list[LibEntry]] = {}
for _e in ENTRIES + STATIC_VIEWS:
    if _e.owner in NAMESPACES:
        _NS_BY_NAME.setdefault((_e.owner, _e.name), []).append(_e)


def namespace_functions(namespace: str, name: str) -> list[LibEntry]:
    return list(_NS_BY_NAME.get((namespace, name), ()))


def namespace_names(namespace: str) -> list[str]:
    return sorted({e.name for e in ENTRIES + STATIC_VIEWS if e.owner == namespace})


def constant(namespace: str, name: str) -> tuple[T.Type, object] | None:
    c = CONSTANTS.get((namespace, name))
    return None if c is None else (parse_type(c[0], {}), c[1])


def _receiver_bindings(owner: str, recv: T.Type) -> dict[str, T.Type] | None:
    """Match a receiver type against a row's owner pattern."""
    if owner == "sequence<T>":
        el = T.element_of(recv)
        return {"T": el} if el is not None else None
    if owner == "maybe<T>":
        return {"T": recv.inner} if isinstance(recv, T.MaybeType) else None
    if owner == "map<K, V>":
        return {"K": recv.key, "V": recv.value} if isinstance(recv, T.MapType) else None
    if owner == "table<T>":
        return {"T": recv.record} if isinstance(recv, T.TableType) else None
    if owner == "future<T>":
        return {"T": recv.inner} if isinstance(recv, T.FutureType) and not isinstance(recv, T.ResultType) else None
    if owner == "result<T>":
        return {"T": recv.inner} if isinstance(recv, T.ResultType) else None
    if owner == "record":
        return {} if isinstance(recv, T.RecordType) else None
    if owner in T.PRIMITIVES:
        return {} if recv == T.PRIMITIVES[owner] else None
    return None


def methods_of(recv: T.Type, name: str) -> list[tuple[LibEntry, dict[str, T.Type]]]:
    """Rows for `recv.name(...)` with the receiver's variables bound."""
    out = []
    for e in _BY_NAME.get(name, ()):
        if e.owner in NAMESPACES:
            continue
        b = _receiver_bindings(e.owner, recv)
        if b is not None:
            out.append((e, b))
    for e in _EXTENSIONS_BY_TYPE.get(recv, ()):
        if e.name == name and not any(len(r.params) == len(e.params) for r, _ in out):
            out.append((e, {}))
    return out


def method_names(recv: T.Type) -> list[str]:
    names = set()
    for e in ENTRIES:
        if e.owner not in NAMESPACES and _receiver_bindings(e.owner, recv) is not None:
            names.add(e.name)
    names.update(e.name for e in _EXTENSIONS_BY_TYPE.get(recv, ()))
    return sorted(names)


def constraint_holds(entry: LibEntry, bindings: dict[str, T.Type]) -> bool:
    if entry.constraint is None:
        return True
    var, kind = entry.constraint
    t = bindings.get(var)
    if T.is_error(t):
        return True
    if kind == "numeric":
        return T.is_numeric(t)
    if kind == "record":
        return isinstance(t, T.RecordType)
    return False


def render_markdown() -> str:
    """spec/library.md, generated from ROWS so the document cannot drift."""
    out = [
        "<!-- generated by compiler/library.py (render_markdown); do not edit -->",
        "# Standard library",
        "",
        "Every library function and built-in method, from the one table in `compiler/library.py`.",
        "Effects: `pure` touches nothing else; `time` reads the transaction's clock; `random` draws",
        "from the document's seeded stream; `document` reads document metadata; `writes` changes",
        "document state; `destroy` ends the document; `await` waits durably; `viewstate` tells the",
        "connection that sent the running message (spec/protocol.md 8.3).",
        "",
        "Where each effect is allowed follows the table of language.md section 7: functions call only",
        "`pure` entries; `time` and `document` need a document (not in static policies); `random` is",
        "refused in functions, formulas, bubbles, policies, static policies and field defaults; `writes`",
        "needs a body that may change the document; `destroy` goes where `@destroy` does; `await` only",
        "in `#state` blocks; `viewstate` needs a body with a sender (`@who`) that may change the document",
        "(channels, handlers, procedures and methods; not `#state` blocks, `@cron` or tests).",
        "",
        "Extension methods: a pure function of "
        + ", ".join(f"`{n}`" for n in EXTENSION_NAMESPACES) + " may also",
        "be called as a method of its first argument when that argument's type is the parameter's type",
        "exactly: `x.sin()` is `Math.sin(x)` for a `double x`, `names.join(\", \")` is",
        "`String.join(names, \", \")`; a built-in method of the same name and arity wins (`xs.sum()`).",
        "The other way round, a built-in method of "
        + ", ".join(f"`{t}`" for t in STATIC_OWNERS) + " may be",
        "called through its namespace with the receiver first: `String.trim(s)`, `Principal.agent(p)`.",
        "",
        "Maybe overloads (Adama's): a pure function or method that gives a value, called with a `maybe<P>`",
        "where it takes a `P` (or on a `maybe<T>` receiver), gives a maybe of its result, empty when any such",
        "argument is: `(total / count).roundTo(2)`, `Math.sin(angle)` for a `maybe<double> angle`.",
        "The rows compiled inline (`length`, `size`, `has`...) are not lifted.",
        "",
        "Constants: " + ", ".join(f"`{ns}.{n}` ({v[0]})" for (ns, n), v in CONSTANTS.items()) + ".",
        "",
    ]
    owners: list[str] = []
    for e in ENTRIES:
        if e.owner not in owners:
            owners.append(e.owner)
    for owner in owners:
        title = owner if owner in NAMESPACES else f"methods on `{owner}`"
        if owner == "sequence<T>":
            title = "methods on `list<T>` and `T[]`"
        out += [f"## {title}", "", "| call | effect | what it does |", "| --- | --- | --- |"]
        for e in ENTRIES:
            if e.owner != owner:
                continue
            call = f"{owner}.{e.signature}" if owner in NAMESPACES else f".{e.signature}"
            out.append(f"| `{call}` | {e.effect} | {e.doc} |")
        out.append("")
    return "\n".join(out)

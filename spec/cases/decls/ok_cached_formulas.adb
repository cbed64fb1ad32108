// Adama's cached<once> and cached<every N minutes> formulas: accepted, always fresh here.
public string my_name_is = "Joe";
public cached<once> greeting = "Hi " + my_name_is;
public cached<every 1 minute> that_person = my_name_is + " King";
test t { assert (greeting == "Hi Joe" && that_person == "Joe King"); }

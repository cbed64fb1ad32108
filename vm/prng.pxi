# The document PRNG: xoshiro256** (Blackman & Vigna, 2018), seeded through
# splitmix64 so any 64-bit seed gives a well-mixed, never all-zero state.
# Pure integer arithmetic on uint64_t: the same seed yields the same stream
# on every machine. Specified in spec/bytecode.md ("Random").

cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t _splitmix64(uint64_t* x) noexcept nogil:
    x[0] += <uint64_t>0x9E3779B97F4A7C15ULL
    cdef uint64_t z = x[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline void _rng_seed(uint64_t* s, uint64_t seed) noexcept nogil:
    cdef uint64_t x = seed
    s[0] = _splitmix64(&x)
    s[1] = _splitmix64(&x)
    s[2] = _splitmix64(&x)
    s[3] = _splitmix64(&x)


cdef inline uint64_t _rng_next(uint64_t* s) noexcept nogil:
    cdef uint64_t result = _rotl(s[1] * 5, 7) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline uint64_t _rng_below(uint64_t* s, uint64_t n) noexcept nogil:
    # Unbiased draw in [0, n) by rejection: values below (2^64 - n) mod n are
    # redrawn so every residue has the same number of preimages.
    cdef uint64_t threshold = (<uint64_t>0 - n) % n
    cdef uint64_t r
    while True:
        r = _rng_next(s)
        if r >= threshold:
            return r % n


cdef inline double _rng_double(uint64_t* s) noexcept nogil:
    # The top 53 bits as a fraction: uniform over [0, 1) on a 2^-53 grid.
    return <double>(_rng_next(s) >> 11) * (1.0 / 9007199254740992.0)

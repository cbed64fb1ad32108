// Seed 004: a state that re-enters itself every minute.

public int checks;

#processing {
// do some work, then check again in 60 seconds
checks += 1;
transition #processing in 60;
}

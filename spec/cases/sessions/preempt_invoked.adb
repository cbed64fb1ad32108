// preempt gives the block up whole, the states it invokes with it: the state can be entered
// and invoke them again (language.md 6.9.1).
@static { create { return true; } }
@connected { return true; }
message Go { int n; }
public int rounds;
@construct { transition #s; }
channel again(Go g) { transition #s; }
#s {
  preempt #done;
  rounds += 1;
  invoke #u;
}
#u { block; }
#done { }

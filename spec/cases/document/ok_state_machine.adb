// States, transitions (immediate, delayed, to a label), invoke.
public int round;
public int dealt;
public label resume = #play;

@construct {
  transition #setup;
}

#setup {
  invoke #shuffle;
  invoke #deal;
  transition #play;
}

#shuffle {
  round = 0;
}

#deal {
  dealt += 5;
}

#play {
  round += 1;
  if (round < 10) {
    transition #play in 60;
  } else if (round < 20) {
    transition resume in 1.5;
  } else {
    transition #done;
  }
}

#done {
}

// The test harness's statements (language.md 4.24), run by `advm test`: @step runs the pending
// transition, @forward moves the clock and runs what falls due, @pump answers the next ask on a
// channel, @aborts expects its block to abort and undoes it, log writes a line of the report.
public int ticks;
public int total;
public string said;
message Num { int n; }
channel<Num> give;

#go {
  ticks += 1;
  transition #go in 5;
}

#collect {
  Num first = give.fetch(@no_one).await();
  total += first.n;
  Num second = give.fetch(@no_one).await();
  total += second.n;
  said = "done";
}

test steps_and_time {
  transition #go;
  @step;
  assert ticks == 1;
  @step;
  assert ticks == 2;
  @forward 4;
  assert ticks == 2;
  @forward 1;
  assert ticks == 3;
  @forward @timespan 1 min;
  assert ticks == 15;
  log "ticks " + ticks;
}

test pumped_messages_answer_asks {
  @pump {n: 3} into give;
  transition #collect;
  @step;
  assert total == 3 && said == "";
  @pump {n: 4} into give;
  assert total == 7 && said == "done";
}

test aborts_undoes_its_block {
  total = 1;
  @aborts {
    total = 2;
    abort;
  }
  assert total == 1;
  int local = 5;
  @aborts { local = 6; abort; }
  assert local == 5;
}

// Cron schedules at their range limits, @static policies and properties, tests.
public int runs;
public bool expired;

@cron first daily 0:00 {
  runs += 1;
}

@cron last daily 23:59 {
  if (expired) {
    @destroy;
  }
}

@cron top hourly 0 {
  runs += 1;
}

@cron end hourly 59 {
  runs += 1;
}

@cron billing monthly 1 {
  runs += 1;
}

@cron late monthly 31 {
  abort;
}

@static {
  create {
    return @who != @no_one && @context.origin == "https://example.com";
  }
  invent {
    return @who.isAnonymous() == false;
  }
  maximum_history = 500;
  instruction_budget = 1000000;
  snapshot_every = 100;
  timezone = "UTC";
}

function add(int a, int b) -> int {
  return a + b;
}

test adds {
  assert (add(2, 3) == 5);
  runs += 1;
  assert (runs == 1);
}

// Seed 001: the saga as straight-line code in one state.

public bool reserved;
public bool charged;
public bool shipped;

procedure reserveItem() {
  reserved = true;
}

procedure chargeCard() {
  charged = true;
}

procedure shipOrder() {
  shipped = true;
}

#reserve { reserveItem(); chargeCard(); shipOrder(); transition #done; }

#done {
}

// A shared photo album that accepts image uploads (issue 13 point 7,
// spec/language.md 4.29). Members upload over HTTP
// (PUT /~attach/<key>?name=cat.png, spec/protocol.md 8.15) or the WebSocket
// (attachment/start, append, finish); @can_attach lets members in, @attached keeps images only
// (anything else aborts: the upload is refused and its bytes are collected).
// Photos are served back by @web get /photo/$id:int as the file itself;
// deleting one leaves its bytes unreferenced, for the collector.
@static {
  create {
    return true;
  }
}

message Join {
  string name;
}

message Caption {
  int photo;
  string text;
}

record Member {
  public principal who;
  public string name;
}

record Photo {
  public int id;
  public asset file;
  public principal by;
  public string caption;
  public formula kb = file.size() / 1024;
}

public table<Member> members;
public table<Photo> photos;
public maybe<asset> cover;
public long bytes;
public formula count = photos.size();

@connected {
  return true;
}

function allowed(principal p, list<Member> ms) -> bool {
  foreach (m in ms) {
    if (m.who == p) {
      return true;
    }
  }
  return false;
}

channel join(Join j) {
  if (!allowed(@who, iterate members)) {
    members <- {who: @who, name: j.name};
  }
}

channel caption(Caption c) {
  foreach (p in iterate photos where id == c.photo) {
    if (p.by == @who) {
      p.caption = c.text;
    }
  }
}

@can_attach {
  return allowed(@who, iterate members);
}

@attached (a) {
  if (!a.type().startsWith("image/") || a.size() > 5000000) {
    abort;
  }
  photos <- {file: a, by: @who, caption: a.name()};
  bytes += a.size();
  if (!cover.has()) {
    cover = a;
  }
}

@web get /photo/$n:int {
  foreach (p in iterate photos where id == n) {
    return {asset: p.file, cache_ttl_seconds: 3600};
  }
  return {error: "no photo " + n, status: 404};
}

@web get /cover {
  if (cover as c) {
    return {asset: c};
  }
  return {error: "no cover yet", status: 404};
}

@web get /list {
  string out = "";
  foreach (p in iterate photos) {
    out = out + p.id + "," + p.file.name() + "," + p.file.size() + "\n";
  }
  return {csv: out};
}

@web delete /photo/$n:int {
  foreach (p in iterate photos where id == n) {
    if (p.by != @who) {
      abort;
    }
    bytes -= p.file.size();
    if (cover as c) {
      if (c.id() == p.file.id()) {
        cover = @maybe<asset>;
      }
    }
  }
  (iterate photos where id == n).delete();
  return {html: "deleted"};
}

// Adama's json values (language.md 3.13): a message field or a document field holds any JSON,
// read by path (deref by name or index) and by kind (to_b, to_i, to_s: empty when it is not that).
@static { create { return true; } }
@connected { return true; }

message Put {
  json data;
}

public json kept;
public formula name = kept.deref("name").to_s();
public formula first_tag = kept.deref("tags").deref(0).to_s();
public formula count = kept.deref("n").to_i();
public formula on = kept.deref("on").to_b();
public formula missing = kept.deref("nope").deref(3).to_i();

channel put(Put p) {
  kept = p.data;
}

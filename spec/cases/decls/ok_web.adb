// @web handlers (spec/language.md 4.28) of every method, typed path
// parameters, a rest parameter, a put taking the request's message.
@static { create { return true; } }
@connected { return true; }
public int hits;
message Hook { string event; int amount; }
@web get / { return {html: "<p>root</p>"}; }
@web get /item/$id:int { return {json: Dynamic.dyn(id), cache_ttl_seconds: 60}; }
@web get /item/$id:int/name { return {html: "item " + id}; }
@web get /price/$p:double/$n:long { return {csv: "" + p + "," + n}; }
@web get /files/$rest* { return {html: rest, status: 200}; }
@web options /hook { return {cors: true}; }
@web put /hook (Hook h) {
  if (h.amount < 0) {
    abort;
  }
  hits += h.amount;
  return {xml: "<ok/>", status: 201, cors: true};
}
@web delete /hits {
  hits = 0;
  return {redirect: "/"};
}

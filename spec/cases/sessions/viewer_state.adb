// Viewer state (language.md 4.9.1): each viewer's own `view` fields, sent by its client, read by
// the document's bubbles as @viewer; a bubble is computed again for one viewer when its state
// changes, and for every viewer when what it reads of the document changes.
@static { create { return true; } }
@connected { return true; }

view int page;
view string filter;

record Item {
  public int id;
  public string tag;
  public int n;
}
table<Item> items;
public int size = 2;

message Add { string tag; int n; }
channel add(Add a) { items <- a; }

// the page of items the viewer looks at, of its tag when it filters by one
bubble page_items = iterate items where @viewer.filter == "" || tag == @viewer.filter
                    order by n asc offset (@viewer.page * size) limit size;
bubble heading = (@viewer.filter == "" ? "all" : @viewer.filter) + " #" + @viewer.page + " of " + count;
bubble count = (iterate items where @viewer.filter == "" || tag == @viewer.filter).size();

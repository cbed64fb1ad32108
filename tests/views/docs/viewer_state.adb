// Viewer state for the views tests: each viewer's page and filter (`view`), read by the
// document's bubbles as @viewer; one bubble reads another; a public field and a table too;
// guarded bubbles (bubble<policy>) of the document and of a row, shown as the policies decide;
// a row's bubble reads @viewer too.
view int page;
view string filter;
view bool mine;

record Item {
  public int id;
  public string tag;
  public int n;
  public principal owner;
  policy own { return owner == @who; }
  bubble<own> mark = n * 2;
  bubble hit = @viewer.filter != "" && tag == @viewer.filter;
}
table<Item> items;
public int size = 2;

message Add { string tag; int n; }
channel add(Add a) { Item it = {tag: a.tag, n: a.n, owner: @who}; items <- it; }
message Size { int size; }
channel resize(Size s) { size = s.size; }

bubble page_items = iterate items where (@viewer.filter == "" || tag == @viewer.filter)
                                       && (!@viewer.mine || owner == @who)
                    order by n asc offset (@viewer.page * size) limit size;
bubble count = (iterate items where @viewer.filter == "" || tag == @viewer.filter).size();
bubble heading = (@viewer.filter == "" ? "all" : @viewer.filter) + " #" + @viewer.page + " of " + count;
policy wide { return size >= 2; }
bubble<wide> wide_count = count * 10;

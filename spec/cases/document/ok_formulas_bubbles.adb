// Formulas read fields, tables and other formulas; bubbles read @who.
record Note {
  public int id;
  private principal author;
  public string text;
  public int likes;
  formula popular = likes > 10;
}

table<Note> _notes;
public int x;
public int y;
public formula sum = x + y;
public formula doubled = sum * 2;
public formula note_count = _notes.size();
public formula total_likes = (iterate _notes).likes.sum();
public formula best = iterate _notes where popular order by likes desc limit 3;
bubble mine = iterate _notes where author == @who;
bubble my_count = (iterate _notes where author == @who).size();
bubble my_share = my_count + doubled;

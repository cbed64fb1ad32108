// Adama's templates (language.md 4.26): named text between two equal backquoted tags, kept
// as written (a tag may be empty); checked, with no run-time use yet.
template welcome: `html`<p>Hello, {name}!</p>
<p>a `code` span</p>`html`
template brief: ``Hi there``
public int x;

test nothing_changes {
  x = 1;
  assert x == 1;
}

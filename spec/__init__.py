"""The contract: the grammar the parser loads and the language documents."""

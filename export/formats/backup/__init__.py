"""The JSON backup that loses nothing: the writer, and the reader that takes it back, every field checked."""

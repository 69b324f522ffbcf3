"""Access audit: who read or changed what, through which surface, when."""

"""The TeMIX domain core: plain Python, standard library only, no I/O."""

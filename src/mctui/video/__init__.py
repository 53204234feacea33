"""Video for mctui's calls (issue 32, under way): sources and the pictures the terminal draws.

Only the pieces that stand alone are here so far: the moving colour-bar test pattern that
``--camera test`` will send, and nothing of the call's media path yet."""

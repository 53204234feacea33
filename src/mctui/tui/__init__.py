"""mctui.tui"""

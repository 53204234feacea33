"""mctui.bots"""

"""Sizing shared by every interactive (Bokeh) figure builder: one definition, imported where used."""

# stretch to the pane's width, a readable minimum height, a grid to read values off
SIZE = dict(responsive=True, min_height=300, show_grid=True)

"""The slot view's colours, legend and theme script, shared by its slots, tree and legend."""

from __future__ import annotations

# One palette for slots, tree and legend: a state has the same colour wherever it shows.
STATE_COLORS = {
    "running": "#1b9e77",
    "seceded": "#7570b3",
    "blocked": "#d95f02",
    "waiting": "#e6ab02",
    "finished": "#66a61e",
    "inline": "#a6d854",
    "erred": "#e7298a",
    "cancelled": "#999999",
    "idle": "#e6e6e6",
}
LEGEND = {
    "running": "running", "seceded": "seceded (waits on children)", "blocked": "blocked without seceding",
    "waiting": "waiting or queued", "finished": "finished", "inline": "@nest child run in its parent",
    "erred": "erred", "cancelled": "cancelled or released", "idle": "idle slot",
}
COLORS = {**STATE_COLORS, "more": "#bdbdbd", "gone": "#f4cccc"}
TREE_COLORS = {
    **STATE_COLORS, "processing": STATE_COLORS["running"], "queued": STATE_COLORS["waiting"],
    "pending": STATE_COLORS["waiting"], "no-worker": STATE_COLORS["waiting"], "released": STATE_COLORS["cancelled"],
    "forgotten": STATE_COLORS["cancelled"], "hidden": "#bdbdbd",
}

# JupyterLab's themes: Bokeh draws on canvases with its own colours, so a dark theme takes the page's
# (--jp-* CSS variables) and a light one gets Bokeh's own back. The script runs with every update, so
# a theme switched while the view shows is followed at the next. Outside JupyterLab nothing changes.
THEME_JS = """
const mode = document.body.dataset.jpThemeLight
if (mode === undefined) { return }
const dark = mode === "false"
const css = getComputedStyle(document.body)
const color = (name, fallback) => (css.getPropertyValue(name) || fallback).trim()
const page = {background: color("--jp-layout-color0", "#111111"), text: color("--jp-ui-font-color1", "#dddddd"),
              line: color("--jp-border-color1", "#555555")}
const want = dark ? page.background + page.text : "light"
for (const fig of figures) {
    if (fig._nest_theme === want) { continue }  // done already
    if (fig._nest_parts === undefined) {
        // each themed colour of the figure: the model, its attribute, what it is, and its light value
        const parts = [[fig, "background_fill_color", "background"], [fig, "border_fill_color", "background"],
                       [fig, "outline_line_color", "line"]]
        if (fig.title) { parts.push([fig.title, "text_color", "text"]) }
        for (const part of [...fig.left, ...fig.right, ...fig.below, ...fig.above, ...fig.center]) {
            if (part.major_label_text_color !== undefined) {
                parts.push([part, "major_label_text_color", "text"], [part, "axis_line_color", "line"],
                           [part, "major_tick_line_color", "line"], [part, "minor_tick_line_color", "line"])
            } else if (part.label_text_color !== undefined) {
                parts.push([part, "label_text_color", "text"], [part, "background_fill_color", "background"],
                           [part, "border_line_color", "line"])
            } else if (part.grid_line_color !== undefined && part.grid_line_color !== null) {
                parts.push([part, "grid_line_color", "line"])
            }
        }
        for (const r of fig.renderers) {
            // text outside the coloured boxes: the workers' labels
            if (r.data_source && r.data_source.name === "nest-labels") { parts.push([r.glyph, "text_color", "text"]) }
        }
        fig._nest_parts = parts.map(([model, name, kind]) => [model, name, kind, model[name]])
    }
    for (const [model, name, kind, light] of fig._nest_parts) { model[name] = dark ? page[kind] : light }
    fig._nest_theme = want
}
"""

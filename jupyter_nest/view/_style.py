"""The slot view's colours, legend and dark-theme script, shared by its slots, tree and legend."""

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

# JupyterLab's dark themes: Bokeh draws on canvases with its own colours, so take the page's
# (--jp-* CSS variables) once the view is on the page. Outside JupyterLab nothing changes.
THEME_JS = """
const body = document.body
if (body.dataset.jpThemeLight !== "false") { return }
const css = getComputedStyle(body)
const color = (name, fallback) => (css.getPropertyValue(name) || fallback).trim()
const background = color("--jp-layout-color0", "#111111")
const text = color("--jp-ui-font-color1", "#dddddd")
const line = color("--jp-border-color1", "#555555")
for (const fig of figures) {
    if (fig.background_fill_color === background) { continue }  // done already: this runs often
    fig.background_fill_color = background
    fig.border_fill_color = background
    fig.outline_line_color = line
    if (fig.title) { fig.title.text_color = text }
    for (const part of [...fig.left, ...fig.right, ...fig.below, ...fig.above, ...fig.center]) {
        if (part.major_label_text_color !== undefined) {
            part.major_label_text_color = text
            part.axis_line_color = line
            part.major_tick_line_color = line
            part.minor_tick_line_color = line
        } else if (part.label_text_color !== undefined) {
            part.label_text_color = text
            part.background_fill_color = background
            part.border_line_color = line
        } else if (part.grid_line_color !== undefined && part.grid_line_color !== null) {
            part.grid_line_color = line
        }
    }
    for (const r of fig.renderers) {
        // text outside the coloured boxes: the workers' labels
        if (r.data_source && r.data_source.name === "nest-labels") { r.glyph.text_color = text }
    }
}
"""

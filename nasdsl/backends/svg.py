"""SVG rendering of a `show` drawing, with no system Graphviz.

NOTE: why not Graphviz: `dot` is a system program a fresh machine lacks, and the PyPI
wheels that bundle it ship unvetted binaries. The layered (Sugiyama) layout comes from
grandalf, a small pure-Python library (also what langchain uses to draw graphs); this
module only measures boxes, routes edges through grandalf's dummy points, clips them at
the box borders (grandalf ends them at box centres, where the arrowhead would hide
under the box) and prints SVG. Every text goes through `xml.sax.saxutils` escaping.

Panels are packed in columns (the macro graph first, cells beside or below it) so the
drawing is as close to square as the panels allow rather than one very tall strip, and the declared display size is capped
at MAX_SIDE pixels (the viewBox keeps every coordinate, so zooming shows full detail).
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from nasdsl.backends.drawing import Box, Panel

CHAR_W, LINE_H, PAD = 6.6, 14.0, 8.0      # 11px sans-serif, roughly
GAP_Y, GAP_X, MARGIN, TITLE_H = 36, 24, 16, 24
MAX_SIDE = 2400                            # px, longer side of the declared size
FILL = {"op": "#ffffff", "cell": "#cfe3f7", "input": "#eeeeee"}

Point = tuple[float, float]


class _View:
    """grandalf reads w/h and writes xy (box centre)."""

    def __init__(self, box: Box):
        self.w = max(len(line) for line in box.lines) * CHAR_W + 2 * PAD
        self.h = len(box.lines) * LINE_H + PAD
        self.xy = (0.0, 0.0)


class _EdgeView:
    def __init__(self, src: _View, dst: _View) -> None:
        self.src, self.dst = src, dst
        self.points: list[Point] = []

    def setpath(self, pts) -> None:
        self.points = [tuple(p) for p in pts]


def _border(view: _View, toward: Point) -> Point:
    """Where the line from the box centre to `toward` leaves the box."""
    cx, cy = view.xy
    dx, dy = toward[0] - cx, toward[1] - cy
    scales = [view.w / 2 / abs(dx)] if dx else []
    scales += [view.h / 2 / abs(dy)] if dy else []
    if not scales or min(scales) >= 1:   # `toward` lies inside the box: nothing to clip
        return toward
    t = min(scales)
    return cx + dx * t, cy + dy * t


def clip(edge: _EdgeView) -> list[Point]:
    """The edge's polyline from the source's border to the target's border."""
    pts = edge.points
    if len(pts) < 2:
        return pts
    return [_border(edge.src, pts[1]), *pts[1:-1], _border(edge.dst, pts[-2])]


def _layout(panel: Panel) -> tuple[dict[str, _View], list[_EdgeView]]:
    verts = {b.key: Vertex(b) for b in panel.boxes}
    views: dict[str, _View] = {}
    for key, v in verts.items():
        v.view = views.setdefault(key, _View(v.data))
    edges = []
    for a, b in panel.edges:
        e = Edge(verts[a], verts[b])
        e.view = _EdgeView(views[a], views[b])
        edges.append(e)
    graph = Graph(list(verts.values()), edges)
    x_offset = 0.0
    for comp in graph.C:  # lay out each connected component, side by side
        sug = SugiyamaLayout(comp)
        sug.yspace, sug.xspace = GAP_Y, GAP_X
        roots = [v for v in comp.sV if not v.e_in()]
        sug.init_all(roots=roots or None, optimize=True)
        sug.draw(3)
        xs = [v.view.xy[0] - v.view.w / 2 for v in comp.sV]
        xs += [x for e in comp.sE for x, _ in e.view.points]  # long edges bend outside
        shift = x_offset - min(xs)
        for v in comp.sV:
            v.view.xy = (v.view.xy[0] + shift, v.view.xy[1])
        for e in comp.sE:
            e.view.points = [(x + shift, y) for x, y in e.view.points]
        x_offset = max([v.view.xy[0] + v.view.w / 2 for v in comp.sV]
                       + [x for e in comp.sE for x, _ in e.view.points]) + GAP_X
    return views, [e.view for e in edges]


def _box_svg(box: Box, view: _View, dx: float, dy: float) -> list[str]:
    x, y = view.xy[0] - view.w / 2 + dx, view.xy[1] - view.h / 2 + dy
    rx = view.h / 2 if box.style == "input" else 3
    out = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{view.w:.1f}" height="{view.h:.1f}" '
           f'rx="{rx:.1f}" fill="{FILL[box.style]}" stroke="#333"/>']
    for i, line in enumerate(box.lines):
        ty = y + PAD / 2 + LINE_H * (i + 0.8)
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="{x + view.w / 2:.1f}" y="{ty:.1f}" text-anchor="middle"'
                   f'{weight}>{escape(line)}</text>')
    return out


def _edge_svg(view: _EdgeView, dx: float, dy: float) -> str:
    pts = " ".join(f"{x + dx:.1f},{y + dy:.1f}" for x, y in clip(view))
    return f'<polyline points="{pts}" fill="none" stroke="#555" marker-end="url(#arrow)"/>'


def _panel_svg(panel: Panel) -> tuple[list[str], float, float]:
    """SVG elements of one panel with its top left corner at (0, 0); also its size."""
    views, edge_views = _layout(panel)
    if not views:
        return [], 0.0, 0.0
    min_y = min(v.xy[1] - v.h / 2 for v in views.values())
    width = max([v.xy[0] + v.w / 2 for v in views.values()]
                + [x for e in edge_views for x, _ in e.points]
                + [len(panel.title) * CHAR_W]) + 2 * MARGIN
    height = max(v.xy[1] + v.h / 2 for v in views.values()) - min_y + 2 * MARGIN + TITLE_H
    dx, dy = MARGIN, TITLE_H + MARGIN - min_y
    out = [f'<rect x="0" y="0" width="{width:.1f}" height="{height:.1f}" '
           'fill="none" stroke="#999" stroke-dasharray="4 3"/>',
           f'<text x="{MARGIN}" y="17" font-weight="bold">{escape(panel.title)}</text>']
    # boxes are opaque and drawn after the edges: edges end at the borders, never under
    out += [_edge_svg(e, dx, dy) for e in edge_views if e.points]
    for box in panel.boxes:
        out += _box_svg(box, views[box.key], dx, dy)
    return out, width, height


def _pack_under(sizes: list[tuple[float, float]], limit: float) -> list[tuple[float, float]]:
    corners, x, y, col_w = [], 0.0, 0.0, 0.0
    for w, h in sizes:
        if y > 0 and y + h > limit:
            x, y, col_w = x + col_w + MARGIN, 0.0, 0.0
        corners.append((x, y))
        y, col_w = y + h + MARGIN, max(col_w, w)
    return corners


def _extent(sizes, corners) -> tuple[float, float]:
    return (max((x + w for (w, _), (x, _) in zip(sizes, corners)), default=1.0),
            max((y + h for (_, h), (_, y) in zip(sizes, corners)), default=1.0))


def _pack(sizes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Top-left corners for panels in columns, in order (macro first), with the column
    height chosen so the whole drawing is as close to square as the panels allow."""
    tallest = max((h for _, h in sizes), default=0.0)
    limits, total = {tallest}, 0.0
    for _, h in sizes:
        total += h + MARGIN
        limits.add(max(tallest, total))
    return min((_pack_under(sizes, lim) for lim in sorted(limits)),
               key=lambda corners: max(_extent(sizes, corners)))


def to_svg(panels: list[Panel]) -> str:
    drawn = [(p, *_panel_svg(p)) for p in panels]
    drawn = [d for d in drawn if d[1]]
    corners = _pack([(w, h) for _, _, w, h in drawn])
    body: list[str] = []
    width = height = 1.0
    for (panel, elems, w, h), (x, y) in zip(drawn, corners):
        body.append(f'<g class="panel" id={quoteattr(panel.key)} '
                    f'transform="translate({x:.1f},{y:.1f})">')
        body += elems + ["</g>"]
        width, height = max(width, x + w), max(height, y + h)
    scale = min(1.0, MAX_SIDE / max(width, height))
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * scale:.0f}" '
            f'height="{height * scale:.0f}" viewBox="0 0 {width:.1f} {height:.1f}" '
            'font-family="Helvetica, Arial, sans-serif" font-size="11">',
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    return "\n".join(head + body + ["</svg>"]) + "\n"

"""What the end-to-end benchmark's plots share (run_e2e.py, e2e_rtt.py,
e2e_cpu.py): matplotlib without a display, and writing a figure to each path."""

import os


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None without python3-matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def save(plt, fig, paths):
    """Writes fig to every path (making its folder), closes it; returns the paths."""
    written = []
    for path in paths:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path)
        written.append(path)
    plt.close(fig)
    return written

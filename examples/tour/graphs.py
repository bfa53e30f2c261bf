"""geometric: a GCN on Zachary's karate club (PyG's introduction example), node accuracy."""

from __future__ import annotations

import numpy as np

from ._common import Context, require
from ._progress import progress


def run(ctx: Context) -> list[tuple[str, str]]:
    import tocha.core as torch

    datasets = require("tocha.geometric.datasets", "tocha-geometric is not installed")
    gnn = require("tocha.geometric.nn")
    data = datasets.KarateClub()[0]
    _check_against_networkx(data)
    torch.manual_seed(0)

    class GCN(torch.nn.Module):
        def __init__(self, num_features: int, num_classes: int) -> None:
            super().__init__()
            self.conv1 = gnn.GCNConv(num_features, 16)
            self.conv2 = gnn.GCNConv(16, num_classes)

        def forward(self, x, edge_index):
            h = torch.relu(self.conv1(x, edge_index))
            return self.conv2(torch.nn.functional.dropout(h, 0.5, self.training), edge_index)

    data = data.to(ctx.device)
    model = GCN(data.num_features, int(data.y.max()) + 1).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    bar = progress(range(200), "GCN on karate club")
    for epoch in bar:
        out = model(data.x, data.edge_index)
        loss = loss_fn(out[data.train_mask], data.y[data.train_mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 20 == 0:
            bar.set(f"loss {loss.item():.3f}")
    model.eval()
    with torch.no_grad():
        pred = model(data.x, data.edge_index).argmax(1).cpu().numpy()
    y = data.y.cpu().numpy()
    unlabelled = ~data.train_mask.cpu().numpy()
    acc = float((pred[unlabelled] == y[unlabelled]).mean())
    print(f"  {data.num_nodes} members, {data.num_edges // 2} friendships, "
          f"{int(data.train_mask.sum())} labelled (one per community)")  # fmt: skip
    print(f"  GCN accuracy on the {int(unlabelled.sum())} unlabelled members: {acc:.1%}")
    return [("GCN accuracy (karate, unlabelled)", f"{acc:.1%}")]


def _check_against_networkx(data) -> None:
    """The dataset's graph is networkx's karate_club_graph(), when networkx is installed."""
    try:
        import networkx as nx
    except ImportError:
        return
    ei = data.edge_index.cpu().numpy()
    ours = {(int(a), int(b)) for a, b in ei.T if a < b}
    theirs = {tuple(sorted(e)) for e in nx.karate_club_graph().edges()}
    if ours != theirs:
        raise RuntimeError(f"KarateClub: {len(ours ^ theirs)} edges differ from networkx's")
    np.testing.assert_equal(len(ours), 78)

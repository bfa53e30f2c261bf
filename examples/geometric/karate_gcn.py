"""Semi-supervised node classification on Zachary's karate club with a two-layer GCN.

One member of each of the four communities is labelled; the GCN labels the other 30.

    python examples/geometric/karate_gcn.py
"""

from __future__ import annotations

import tocha.core as torch
import tocha.geometric.nn as gnn
from tocha.geometric.datasets import KarateClub


class Net(torch.nn.Module):
    def __init__(self, in_channels: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.conv1 = gnn.GCNConv(in_channels, hidden)
        self.conv2 = gnn.GCNConv(hidden, classes)

    def forward(self, x, edge_index):
        x = self.conv1(x, edge_index).relu()
        x = torch.nn.functional.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index)


def main(epochs: int = 200, seed: int = 0) -> float:
    torch.manual_seed(seed)
    data = KarateClub()[0]
    model = Net(data.num_features, 16, int(data.y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for epoch in range(1, epochs + 1):
        model.train()
        opt.zero_grad()
        out = model(data.x, data.edge_index)
        loss = torch.nn.functional.cross_entropy(out[data.train_mask], data.y[data.train_mask])
        loss.backward()
        opt.step()
        if epoch % 50 == 0:
            print(f"epoch {epoch:3d}  loss {float(loss):.4f}")
    model.eval()
    with torch.no_grad():
        pred = model(data.x, data.edge_index).argmax(dim=1)
    test = ~data.train_mask
    acc = float((pred[test] == data.y[test]).float().mean())
    print(f"accuracy on the {int(test.sum())} unlabelled members: {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()

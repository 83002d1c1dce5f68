#!/usr/bin/env python3
"""The seed study's five-layer VAE (784-400-200-100-20, batch 64, Adam 1e-3) trained in PyTorch as
PyTorch's VAE example trains it (nn.Linear, torch.optim.Adam, sigmoid + binary_cross_entropy summed,
loss.item() every step), on all 60,000 Fashion-MNIST training images held in memory as one float32
tensor (no DataLoader). Prints one JSON object: seconds of each epoch, torch's version and threads.

    python3 scripts/pytorch_bench.py [--epochs N] [--data DIR]
"""
import argparse, gzip, json, os, time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def images(folder):
    with gzip.open(os.path.join(folder, "train-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0)


class VAE(nn.Module):
    def __init__(self, hidden=(400, 200, 100), latent=20):
        super().__init__()
        widths = (784,) + tuple(hidden)
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.head = nn.Linear(widths[-1], 2 * latent)
        back = (latent,) + tuple(reversed(hidden))
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back, back[1:]))
        self.output = nn.Linear(back[-1], 784)
        self.latent = latent

    def forward(self, x):
        for layer in self.encoder:
            x = F.relu(layer(x))
        mu, logvar = self.head(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        for layer in self.decoder:
            z = F.relu(layer(z))
        return torch.sigmoid(self.output(z)), mu, logvar


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", default=os.path.join(here, "..", "data", "fashion-mnist"))
    args = parser.parse_args()
    torch.manual_seed(1)
    x = images(args.data)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds, losses = [], []
    for _ in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(x.shape[0])
        total = 0.0
        for i in range(0, x.shape[0], 64):
            batch = x[order[i:i + 64]]
            recon, mu, logvar = model(batch)
            loss = F.binary_cross_entropy(recon, batch, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        seconds.append(time.perf_counter() - start)
        losses.append(total / x.shape[0])
    print(json.dumps({"epochSeconds": seconds, "trainingLoss": losses, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()

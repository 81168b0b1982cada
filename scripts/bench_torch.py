#!/usr/bin/env python3
"""PyTorch's images/s for the same networks, width, batch and precision as ./train, measured the
same way (SGD with momentum, synthetic data already on the device), for side-by-side comparisons.

usage: bench_torch.py [--device cuda|cpu] [--threads N] [--model resnet18|preact-resnet18|preact-resnet34]
                      [--width 64] [--batch 128] [--steps 200] [--warmup 20]
                      [--precision fp32|tf32|bf16] [--channels-last] [--classes 10]
Prints one line: torch <model> batch=<b> precision=<p> images_per_s=<x>
"""
import argparse
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        return self.conv2(F.relu(self.bn2(out))) + shortcut


class ResNet(nn.Module):
    def __init__(self, block, counts, classes, width=64):
        super().__init__()
        self.preact = block is PreActBlock
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        if not self.preact:
            self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, count in enumerate(counts):
            cout = width << stage
            blocks = []
            for i in range(count):
                blocks.append(block(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        out = self.conv1(x)
        if not self.preact:
            out = F.relu(self.bn1(out))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


MODELS = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "preact-resnet18": (PreActBlock, [2, 2, 2, 2]),
    "preact-resnet34": (PreActBlock, [3, 4, 6, 3]),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--threads", type=int, default=0, help="CPU: intra-op threads (0: all cores)")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--model", default="resnet18", choices=sorted(MODELS))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()

    cuda = args.device == "cuda"
    if cuda:
        tf32 = args.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    else:
        if args.precision != "fp32":
            parser.error("--device cpu measures fp32 only")
        torch.set_num_threads(args.threads if args.threads > 0 else os.cpu_count())
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    block, counts = MODELS[args.model]
    model = ResNet(block, counts, args.classes, args.width).to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device).to(memory_format=memory_format)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)

    def step():
        with torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    print(f"torch {args.model} batch={args.batch} precision={args.precision} "
          f"images_per_s={args.batch * args.steps / seconds:.1f}")


if __name__ == "__main__":
    main()

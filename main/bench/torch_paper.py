"""The paper's section 6.2 procedure in PyTorch, as the side-by-side peer for `npm run bench`.

Same shapes and optimiser as our engine: S stacked MLPs (weights [S, in, out], torch.bmm), teacher
cross-entropy on the class logits, four stacked students per replicate (filtered / all logits,
same / cross init) distilled with KL on uniform noise. Reads the dataset bytes our bench writes.
Prints one JSON object.
"""
import argparse
import json
import time

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--replicates", type=int, default=4)
    p.add_argument("--teacher-epochs", type=int, default=1)
    p.add_argument("--student-epochs", type=int, default=1)
    p.add_argument("--noise", type=int, default=4096)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--aux", type=int, default=3)
    p.add_argument("--hidden", type=str, default="256,256")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when available)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()
    meta = json.load(open(f"{a.data}/meta.json"))
    P = 784

    def load(name, count):
        x = np.fromfile(f"{a.data}/{name}-images.bin", dtype=np.uint8).reshape(count, P)
        y = np.fromfile(f"{a.data}/{name}-labels.bin", dtype=np.uint8)
        x = torch.from_numpy(x.astype(np.float32) / 127.5 - 1)
        return x.to(dev), torch.from_numpy(y.astype(np.int64)).to(dev)

    train_x, train_y = load("train", meta["train"])
    test_x, test_y = load("test", meta["test"])
    S, B = a.replicates, a.batch
    L = 10 + a.aux
    sizes = [P] + [int(h) for h in a.hidden.split(",")] + [L]

    def init(models):
        ws = [torch.randn(models, i, o, device=dev) / i**0.5 for i, o in zip(sizes[:-1], sizes[1:])]
        bs = [torch.zeros(models, 1, o, device=dev) for o in sizes[1:]]
        return ws, bs

    def forward(ws, bs, x):
        h = x
        for l, (w, b) in enumerate(zip(ws, bs)):
            h = torch.matmul(h, w) + b
            if l < len(ws) - 1:
                h = torch.relu(h)
        return h

    def accuracy(ws, bs):
        with torch.no_grad():
            logits = forward(ws, bs, test_x.unsqueeze(0))[..., :10]
            return (logits.argmax(-1) == test_y.unsqueeze(0)).float().mean(1)

    init_ws, init_bs = init(S)
    result = {"accuracy": {"reference": accuracy(init_ws, init_bs).mean().item()}}

    # teacher
    tws = [w.clone().requires_grad_() for w in init_ws]
    tbs = [b.clone().requires_grad_() for b in init_bs]
    opt = torch.optim.Adam(tws + tbs, lr=a.lr, eps=1e-8)
    n = train_x.shape[0]
    start = time.perf_counter()
    for _ in range(a.teacher_epochs):
        order = torch.stack([torch.randperm(n, device=dev) for _ in range(S)])
        for s in range(0, n, B):
            idx = order[:, s : s + B]
            x, y = train_x[idx], train_y[idx]
            logits = forward(tws, tbs, x)[..., :10]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), y.reshape(-1), reduction="none")
            loss = loss.view(S, -1).mean(1).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    sync()
    result["teacher"] = {"seconds": time.perf_counter() - start, "modelSamples": S * n * a.teacher_epochs}
    result["accuracy"]["teacher"] = accuracy(tws, tbs).mean().item()

    # students: [filtered same-init | all same-init | filtered cross-init | all cross-init]
    cross = [(r + 1) % S for r in range(S)]
    order4 = list(range(S)) * 2 + cross * 2
    sws = [w.detach()[order4].clone().requires_grad_() for w in init_ws]
    sbs = [b.detach()[order4].clone().requires_grad_() for b in init_bs]
    mask = torch.full((4 * S, 1, L), -1e9, device=dev)
    for block in range(4):
        keep = list(range(10, L)) if block % 2 == 0 else list(range(L))
        mask[block * S : (block + 1) * S, :, keep] = 0
    opt = torch.optim.Adam(sws + sbs, lr=a.lr, eps=1e-8)
    frozen = [w.detach() for w in tws], [b.detach() for b in tbs]
    # As in the paper (and our engine): a fixed set of `noise` images per model, reshuffled each epoch.
    start = time.perf_counter()
    noise = torch.rand(S, a.noise, P, device=dev) * 2 - 1
    for _ in range(a.student_epochs):
        order = torch.stack([torch.randperm(a.noise, device=dev) for _ in range(S)])
        for s in range(0, a.noise, B):
            idx = order[:, s : s + B]
            x = torch.gather(noise, 1, idx.unsqueeze(-1).expand(-1, -1, P))
            with torch.no_grad():
                target = forward(*frozen, x).repeat(4, 1, 1)
            out = forward(sws, sbs, x.repeat(4, 1, 1))
            logp_t = torch.log_softmax(target + mask, -1)
            logp_s = torch.log_softmax(out + mask, -1)
            loss = (logp_t.exp() * (logp_t - logp_s)).sum(-1).mean(1).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    sync()
    result["students"] = {"seconds": time.perf_counter() - start, "modelSamples": 4 * S * a.noise * a.student_epochs}
    acc = accuracy(sws, sbs)
    for block, name in enumerate(["student", "student_all_logits", "cross_init", "cross_init_all_logits"]):
        result["accuracy"][name] = acc[block * S : (block + 1) * S].mean().item()
    result["threads"] = torch.get_num_threads()
    result["torch"] = torch.__version__
    result["device"] = str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

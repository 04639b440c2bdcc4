#!/usr/bin/python3
"""torch_reference.py - writes tests/fixtures/torch_ncl.txt, the PyTorch answer that
tests/test_torch.c reproduces: NCL's four losses and the gradient of E0 on a small fixed graph,
and a few steps of torch.optim.Adam.

The model code below follows the reference NCL (RUCAIBox/NCL ncl.py on RecBole 1.0) line for
line: get_norm_adj_mat (with numpy in place of scipy, same float64 arithmetic, values stored in
float32), forward() with torch.sparse.mm, ssl_layer_loss and ProtoNCE_loss with F.normalize and
exp / sum, RecBole's BPRLoss and EmbLoss. Each case is computed twice: in float32 (what the
reference trains with) and in float64 (from the same float32 inputs, to pin the math down to
rounding). Two deliberate departures, both to state the math rather than one build's rounding:
the hyper-parameters are the float32 roundings of the settings (nclrec stores them as float),
and in float64 EmbLoss sums in float64 (RecBole starts its sum from torch.zeros(1), float32).

The graph has an isolated user and an isolated item (no training edges), one training pair
given twice (it is one edge), and a batch with repeated users, positives and negatives that is
smaller than the workspace's batch size (as the last batch of an epoch is). One case
("balanced") weights the four terms so that each contributes about equally to the gradient;
the script refuses to write a fixture where that stops being true.

Regenerate (needs Debian's python3-torch; the C test does not), from the repository root:
    /usr/bin/python3 tools/torch_reference.py > tests/fixtures/torch_ncl.txt
The output is deterministic (fixed seeds, single thread).
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
U, I, D = 10, 12, 8          # users, items, embedding size
N = U + I
B_WS = 64                    # workspace batch size in the C test (the batch below is smaller)
FIXTURE = "tests/fixtures/torch_ncl.txt"


def f32(x):
    """A Python float holding the float32 rounding of x, as nc_hparams stores settings."""
    return float(np.float32(x))


def make_data(rng):
    """Training pairs (user U-1 and item I-1 have none), a duplicated pair, a batch, E0,
    prototypes."""
    pairs = set()
    while len(pairs) < 36:
        u, i = int(rng.integers(0, U - 1)), int(rng.integers(0, I - 1))
        pairs.add((u, i))
    pairs = sorted(pairs)
    pairs.append(pairs[5])                 # repeated interaction row: still one edge
    train = pairs[:-1]
    batch = []
    for _ in range(30):
        u, i = train[int(rng.integers(0, len(train)))]
        batch.append((u, i, int(rng.integers(0, I))))
    batch[7] = batch[3]                    # an exact duplicate triple
    batch[11] = (batch[11][0], batch[11][1], I - 1)  # the isolated item as a negative
    e0 = (rng.standard_normal((N, D)) * 0.4).astype(np.float32)
    protos = {}
    for side, n, k in (("user", U, 3), ("item", I, 4)):
        c = rng.standard_normal((k, D)).astype(np.float32)
        c = F.normalize(torch.from_numpy(c), p=2, dim=1).numpy()  # as run_kmeans does
        protos[side] = (c, rng.integers(0, k, size=n).astype(np.int64))
    return pairs, batch, e0, protos


def norm_adj(pairs):
    """get_norm_adj_mat: A from the distinct pairs, deg = row sum of (A > 0) + 1e-7,
    L = D^-1/2 A D^-1/2 in float64, stored as float32."""
    a = np.zeros((N, N), dtype=np.float32)
    for u, i in pairs:
        a[u, U + i] = 1
        a[U + i, u] = 1
    diag = (a > 0).sum(axis=1).astype(np.float64) + 1e-7
    diag = np.power(diag, -0.5)
    lap = (diag[:, None] * a.astype(np.float64)) * diag[None, :]
    return lap.astype(np.float32)


class NCL(torch.nn.Module):
    """The reference model's loss, trimmed to what one training step computes."""

    def __init__(self, e0, adj, hp, dtype):
        super().__init__()
        self.n_users, self.n_items = U, I
        self.user_embedding = torch.nn.Embedding(U, D).to(dtype)
        self.item_embedding = torch.nn.Embedding(I, D).to(dtype)
        with torch.no_grad():
            self.user_embedding.weight.copy_(torch.from_numpy(e0[:U]).to(dtype))
            self.item_embedding.weight.copy_(torch.from_numpy(e0[U:]).to(dtype))
        idx = np.nonzero(adj)
        self.norm_adj_mat = torch.sparse_coo_tensor(
            torch.LongTensor(np.array(idx)), torch.from_numpy(adj[idx]).to(dtype), (N, N))
        self.n_layers, self.hyper_layers = hp["n_layers"], hp["hyper_layers"]
        self.reg_weight, self.ssl_temp = hp["reg_weight"], hp["ssl_temp"]
        self.ssl_reg, self.alpha, self.proto_reg = hp["ssl_reg"], hp["alpha"], hp["proto_reg"]

    def forward(self):
        all_embeddings = torch.cat([self.user_embedding.weight, self.item_embedding.weight])
        embeddings_list = [all_embeddings]
        for _ in range(max(self.n_layers, self.hyper_layers * 2)):
            all_embeddings = torch.sparse.mm(self.norm_adj_mat, all_embeddings)
            embeddings_list.append(all_embeddings)
        lightgcn = torch.stack(embeddings_list[:self.n_layers + 1], dim=1).mean(dim=1)
        user_all, item_all = torch.split(lightgcn, [self.n_users, self.n_items])
        return user_all, item_all, embeddings_list

    def proto_nce(self, node_embedding, user, item, protos):
        users_all, items_all = torch.split(node_embedding, [self.n_users, self.n_items])
        total = 0
        for emb_all, idx, (cent, assign) in ((users_all, user, protos["user"]),
                                             (items_all, item, protos["item"])):
            norm_emb = F.normalize(emb_all[idx])
            pos = torch.mul(norm_emb, cent[assign[idx]]).sum(dim=1)
            pos = torch.exp(pos / self.ssl_temp)
            ttl = torch.matmul(norm_emb, cent.transpose(0, 1))
            ttl = torch.exp(ttl / self.ssl_temp).sum(dim=1)
            total = total + -torch.log(pos / ttl).sum()
        return self.proto_reg * total

    def ssl_layer(self, current, previous, user, item):
        cur_u, cur_i = torch.split(current, [self.n_users, self.n_items])
        prev_u_all, prev_i_all = torch.split(previous, [self.n_users, self.n_items])
        losses = []
        for cur, prev_all, idx in ((cur_u, prev_u_all, user), (cur_i, prev_i_all, item)):
            emb1 = F.normalize(cur[idx])
            emb2 = F.normalize(prev_all[idx])
            all_emb = F.normalize(prev_all)
            pos = torch.mul(emb1, emb2).sum(dim=1)
            ttl = torch.matmul(emb1, all_emb.transpose(0, 1))
            pos = torch.exp(pos / self.ssl_temp)
            ttl = torch.exp(ttl / self.ssl_temp).sum(dim=1)
            losses.append(-torch.log(pos / ttl).sum())
        return self.ssl_reg * (losses[0] + self.alpha * losses[1])

    def losses(self, user, pos_item, neg_item, protos):
        user_all, item_all, embeddings_list = self.forward()
        center = embeddings_list[0]
        context = embeddings_list[self.hyper_layers * 2]
        ssl = self.ssl_layer(context, center, user, pos_item)
        proto = self.proto_nce(center, user, pos_item, protos) if protos else center.sum() * 0
        u_e, p_e, n_e = user_all[user], item_all[pos_item], item_all[neg_item]
        pos_scores = torch.mul(u_e, p_e).sum(dim=1)
        neg_scores = torch.mul(u_e, n_e).sum(dim=1)
        bpr = -torch.log(1e-10 + torch.sigmoid(pos_scores - neg_scores)).mean()
        reg = torch.zeros(1, dtype=u_e.dtype)
        for emb in (self.user_embedding(user), self.item_embedding(pos_item),
                    self.item_embedding(neg_item)):
            reg = reg + torch.norm(emb, p=2)
        reg = reg / user.shape[0]
        return bpr, reg, ssl, proto


def run_case(e0, adj, batch, protos, hp, use_protos, dtype):
    """The four terms and the total with autograd's gradient of E0 (user rows, then items),
    and the norm of each weighted term's own gradient (to show which terms the case tests)."""
    model = NCL(e0, adj, hp, dtype)
    bt = torch.LongTensor(batch)
    pr = None
    if use_protos:
        pr = {s: (torch.from_numpy(c).to(dtype), torch.from_numpy(a)) for s, (c, a) in
              protos.items()}
    bpr, reg, ssl, proto = model.losses(bt[:, 0], bt[:, 1], bt[:, 2], pr)
    weights = (model.user_embedding.weight, model.item_embedding.weight)
    term_norms = []
    for term in (bpr, hp["reg_weight"] * reg, ssl, proto):
        parts = torch.autograd.grad(term.sum(), weights, retain_graph=True, allow_unused=True)
        term_norms.append(sum(float(p.norm()) ** 2 for p in parts if p is not None) ** 0.5)
    total = bpr + hp["reg_weight"] * reg + ssl + proto
    total.backward()
    grad = torch.cat([model.user_embedding.weight.grad, model.item_embedding.weight.grad])
    vals = [bpr.item(), reg.item(), ssl.item(), proto.item(), total.item()]
    return vals, grad.detach().double().numpy(), term_norms


def adam_steps(rng, n, steps, lr):
    """torch.optim.Adam (defaults: betas 0.9/0.999, eps 1e-8) on one float32 tensor."""
    p0 = (rng.standard_normal(n) * 0.1).astype(np.float32)
    grads = (rng.standard_normal((steps, n)) * np.logspace(-6, 1, n)).astype(np.float32)
    grads[:, 3] = 0                        # a parameter that never gets a gradient
    param = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = torch.optim.Adam([param], lr=lr)
    after = []
    for t in range(steps):
        param.grad = torch.from_numpy(grads[t].copy())
        opt.step()
        after.append(param.detach().numpy().copy())
    return p0, grads, after


def emit(out, tag, values, fmt="%.9g"):
    """One line "tag v v ...": %.9g round-trips a float32, %.17g a float64."""
    out.write(tag + " " + " ".join(fmt % v for v in values) + "\n")


def main():
    """The fixture, in the order tests/test_torch.c reads it, to stdout."""
    out = sys.stdout
    rng = np.random.default_rng(20220425)
    pairs, batch, e0, protos = make_data(rng)
    adj = norm_adj(pairs)
    out.write("nclrec-torch-fixture 1\n")
    out.write("# generated by: /usr/bin/python3 tools/torch_reference.py > %s\n" % FIXTURE)
    out.write("# (torch %s, numpy %s, float64 and float32); do not edit by hand\n" % (
        torch.__version__, np.__version__))
    out.write("dims %d %d %d %d\n" % (U, I, D, B_WS))
    out.write("pairs %d\n" % len(pairs))
    for u, i in pairs:
        out.write("%d %d\n" % (u, i))
    out.write("batch %d\n" % len(batch))
    for t in batch:
        out.write("%d %d %d\n" % t)
    out.write("e0\n")
    for row in e0:
        emit(out, "r", row)
    for side in ("user", "item"):
        c, a = protos[side]
        out.write("protos %s %d\n" % (side, c.shape[0]))
        for row in c:
            emit(out, "r", row)
        emit(out, "assign", a, "%d")
    out.write("adjacency\n")
    for row in adj:
        emit(out, "r", row)
    defaults = dict(n_layers=3, hyper_layers=1, reg_weight=1e-4, ssl_temp=0.1, ssl_reg=1e-7,
                    alpha=1.0, proto_reg=8e-8)
    boosted = dict(n_layers=3, hyper_layers=1, reg_weight=0.05, ssl_temp=0.2, ssl_reg=0.02,
                   alpha=0.6, proto_reg=0.03)
    balanced = dict(n_layers=3, hyper_layers=1, reg_weight=0.25, ssl_temp=0.5, ssl_reg=1e-3,
                    alpha=0.7, proto_reg=1.2e-3)
    cases = [("defaults", defaults, True), ("boosted", boosted, True),
             ("deep_context_no_protos", dict(boosted, n_layers=2, hyper_layers=2), False),
             ("four_layers", dict(boosted, n_layers=4, hyper_layers=1), True),
             ("balanced", balanced, True)]
    out.write("cases %d\n" % len(cases))
    for name, hp, use_protos in cases:
        hp = {k: (v if isinstance(v, int) else f32(v)) for k, v in hp.items()}
        out.write("case %s %d %d %.9g %.9g %.9g %.9g %.9g %d\n" % (
            name, hp["n_layers"], hp["hyper_layers"], hp["reg_weight"], hp["ssl_temp"],
            hp["ssl_reg"], hp["alpha"], hp["proto_reg"], int(use_protos)))
        for tag, dtype, fmt in (("32", torch.float32, "%.9g"), ("64", torch.float64, "%.17g")):
            vals, grad, term_norms = run_case(e0, adj, batch, protos, hp, use_protos, dtype)
            if tag == "64":
                out.write("# |gradient| of bpr, reg_weight*reg, ssl, proto: %s\n" %
                          " ".join("%.3g" % t for t in term_norms))
                if name == "balanced" and max(term_norms) > 3 * min(term_norms):
                    sys.exit("case balanced: the terms' gradients are not balanced: %s" %
                             term_norms)
            emit(out, "loss" + tag, vals, fmt)
            out.write("grad%s\n" % tag)
            for row in grad:
                emit(out, "r", row, fmt)
    p0, grads, after = adam_steps(rng, 24, 5, 1e-3)
    out.write("adam %d %d %.9g\n" % (len(p0), len(grads), 1e-3))
    emit(out, "p0", p0)
    for g, p in zip(grads, after):
        emit(out, "g", g)
        emit(out, "p", p)
    out.write("end\n")


if __name__ == "__main__":
    main()

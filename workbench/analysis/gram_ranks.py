"""ESS ranks from Gramians, with runs of consecutive splits certified full rank by one test.

For a diagonal realization T[r, c] = c_r (Π_{k=c+1..r} a_k) b_c and a range of splits p ≤ i ≤ q:
- T[q:, :p] is a submatrix of every T_i = T[i:, :i], so σ_n(T_i) ≥ σ_n(T[q:, :p]) (singular values of
  a submatrix interlace: none exceeds the matrix's own of the same index);
- every T_i is a submatrix of T'[p:, :q], T' being T without its diagonal (no T_i reaches it), so
  σ_1(T_i) ≤ ‖T'[p:, :q]‖_F.
T[q:, :p] = O_q diag(φ) R_p with φ = Π_{k=p..q-1} a_k: its σ² are eig(Sᴴ G_o(q) S), S Sᴴ = (φφᴴ)∘G_r(p).
‖T'[p:, :q]‖_F² = tr(G_r(p) G_o(p)) + Σ_{c=p..q-1} b_cᴴ G_o(c+1) b_c: the block T[p:, :p] and the
columns p..q-1 below the diagonal. So if Sᴴ G_o(q) S − θI is positive definite (one Cholesky), with

    θ = (1 + MARGIN) · max(tol² ‖T'[p:, :q]‖_F², atol²),

every split of the range has σ_n above its threshold: ESS = n there, without a Gramian of its own.
Ranges that fail (rank below n somewhere, or a bound too loose) rebuild each split's Gramians from the
stored G_r(p) and G_o(q) (at most RANGE − 1 steps) and count eigenvalues per split (eigcount.py).
At the Mamba benchmark's splits about 60% of the splits are full rank and most of them are certified
by ranges of 4; the per-split work is left for the rest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from workbench.analysis.eigcount import count_above

JITTER = 1e-13  # relative to tr(G)/n: makes a rank-deficient Gramian Cholesky-factorable
RANGE = 4  # splits per range: more certify fewer splits (looser bounds), fewer leave more solves per split
MARGIN = 1e-6  # relative slack on the certificate's threshold: rounding in the Gramians cannot decide it
BOOK = 32  # backward steps per round of bookkeeping (G_o(q), the Frobenius bound's terms)
MIN_GROUPS = 16  # groups per worker thread at least: smaller passes are bound by Python's per-step overhead (one GIL)
CHUNK = 1024  # matrices per batch in the solves: each batch's factors and products stay in cache
STEPS = 8  # time steps whose Gramian update factors (a aᴴ, b bᴴ, ...) are formed at once: they stay in cache


def outer(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """u, v (..., n) -> u vᴴ (..., n, n): for a diagonal system every Gramian step is elementwise."""
    return u[..., :, None] * v.conj()[..., None, :]


def _psd_factor(G: torch.Tensor) -> torch.Tensor:
    """S with S Sᴴ ≈ G (..., n, n): Cholesky of G + δI, δ = JITTER·tr(G)/n (eigh is ~10× slower).
    G is left as it was (δ is added on its diagonal and taken off again: a rounding-level change)."""
    n = G.shape[-1]
    diag = torch.diagonal(G, dim1=-2, dim2=-1)  # (..., n) view: no pass over the whole batch
    delta = (JITTER / n) * diag.real.sum(-1, keepdim=True).clamp(min=1e-300)  # (..., 1)
    diag += delta
    S, info = torch.linalg.cholesky_ex(G)
    diag -= delta
    if bool((info != 0).any()):  # not positive definite even with the jitter: the exact way
        lam, V = torch.linalg.eigh(G)
        return V * torch.sqrt(lam.clamp(min=0))[..., None, :]
    return S


def hankel_products(Gr: torch.Tensor, Go: torch.Tensor) -> torch.Tensor:
    """Gr, Go (m, n, n) Gramians -> M = Sᴴ G_o S (m, n, n), S Sᴴ = G_r: eig(M) = σ(T[i:, :i])²."""
    S = _psd_factor(Gr)
    return S.mH @ Go @ S


def _ranges(splits: list[int]) -> list[tuple[int, int]]:
    """Ascending splits -> [(p, q)]: runs of consecutive splits, cut every RANGE."""
    out = []
    for i in splits:
        if out and i == out[-1][1] + 1 and i - out[-1][0] < RANGE:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def _full_rank(Gp, Goq, phi, fro2, p, q, L, tol, atol) -> torch.Tensor:
    """The certificate for ranges (R,) on groups (R, m): G_r(p), G_o(q) (R, m, n, n), φ (R, m, n),
    ‖T'[p:, :q]‖_F² (R, m) -> (R, m) bool, True where every split p..q has ESS n."""
    n = Gp.shape[-1]
    M = hankel_products(outer(phi, phi) * Gp, Goq)  # σ(T[q:, :p])² (R, m, n, n)
    th = (1 + MARGIN) * torch.clamp(tol * tol * fro2, min=atol * atol)  # (R, m)
    diag = torch.diagonal(M, dim1=-2, dim2=-1)
    diag -= th[..., None]
    ok = torch.linalg.cholesky_ex(M)[1] == 0
    room = (p >= n) & (L - q >= n)  # (R,) every split has n columns and n rows: a full rank n can exist
    return ok & room[:, None]


@torch.no_grad()
def gram_ranks(A, B, C, splits, tol: float, atol: float, budget: int = 1 << 24) -> torch.Tensor:
    """A, B, C (L, b, g, n) time-major factors, ascending splits (P,) -> ESS (P, b, g) float64."""
    L, b, g, n = A.shape
    dtype = A.dtype
    ranges = _ranges(splits)
    R = len(ranges)
    p = torch.tensor([r[0] for r in ranges])  # (R,)
    q = torch.tensor([r[1] for r in ranges])
    start = [-1] * (L + 1)  # split -> the range it starts, or -1
    end = [-1] * (L + 1)  # split -> the range it ends
    inside = [-1] * (L + 1)  # step c -> the range whose columns p..q-1 hold it
    for j, (i0, i1) in enumerate(ranges):
        start[i0], end[i1] = j, j
        for c in range(i0, i1):
            inside[c] = j
    start_t, end_t, inside_t = torch.tensor(start), torch.tensor(end), torch.tensor(inside)  # (L + 1,)
    span = torch.arange(RANGE)  # (RANGE,) offsets in a range
    t_idx = (p[:, None] + span).clamp(max=L - 1)  # (R, RANGE) steps p..p+RANGE-1
    valid = span[None, :] <= (q - p)[:, None]  # (R, RANGE) offsets that are splits
    rank = torch.full((R, RANGE, b, g), float(n), dtype=torch.float64)  # ESS per (range, offset)
    workers = max(1, min(torch.get_num_threads(), b * g // MIN_GROUPS))
    step = max(1, budget // max(1, workers * b * 3 * R * n * n))  # groups per pass: bounds the stored Gramians
    step = min(step, -(-g // workers))  # and every worker has a pass

    def one_pass(g0):  # groups g0 : g0 + step, start to end; passes write disjoint groups of `rank`
        a, bb, c = A[:, :, g0 : g0 + step], B[:, :, g0 : g0 + step], C[:, :, g0 : g0 + step]  # (L, b, s, n)
        s = a.shape[2]
        Gp = torch.empty(R, b, s, n, n, dtype=dtype)  # G_r(p) per range
        cur = outer(bb[0], bb[0])  # G_r(1): input 0
        if start[1] >= 0:
            Gp[start[1]] = cur
        for t0 in range(1, ranges[-1][0], STEPS):  # G_r(t+1) = (a_t a_tᴴ)∘G_r(t) + b_t b_tᴴ
            t1 = min(t0 + STEPS, ranges[-1][0])
            AA, BB = outer(a[t0:t1], a[t0:t1]), outer(bb[t0:t1], bb[t0:t1])  # (T, b, s, n, n)
            for t in range(t0, t1):
                j = start[t + 1]
                cur = torch.addcmul(BB[t - t0], AA[t - t0], cur, out=Gp[j] if j >= 0 else None)
        Goq = torch.empty(R, b, s, n, n, dtype=dtype)  # G_o(q) per range
        fro2 = torch.zeros(R, b, s, dtype=torch.float64)  # ‖T'[p:, :q]‖_F² per range
        buf = torch.zeros(BOOK + 1, b, s, n, n, dtype=dtype)  # buf[k] = G_o(t0 + k); buf[BOOK] = G_o(L) = 0 at first
        for t1 in range(L - 1, splits[0] - 1, -BOOK):  # G_o(t) = (a_tᴴ a_t)∘(c_tᴴ c_t + G_o(t+1))
            t0 = max(t1 - BOOK + 1, splits[0])
            T = t1 - t0 + 1
            if T != BOOK:  # a short last chunk: G_o(t1 + 1) where the loop below reads it
                buf[T] = buf[BOOK]
            for u1 in range(T - 1, -1, -STEPS):  # update factors STEPS at a time
                u0 = max(u1 - STEPS + 1, 0)
                at, ct = a[t0 + u0 : t0 + u1 + 1], c[t0 + u0 : t0 + u1 + 1]
                AA, ac = outer(at, at).conj(), (at * ct).conj()  # (T', b, s, n, n), (T', b, s, n)
                AC = outer(ac, ac)  # (a_tᴴ a_t)∘(c_tᴴ c_t)
                for k in range(u1, u0 - 1, -1):  # buf[k] = G_o(t0 + k)
                    torch.addcmul(AC[k - u0], AA[k - u0], buf[k + 1], out=buf[k])
            steps = torch.arange(t0, t1 + 1)  # (T,)
            j = inside_t[steps]  # columns t of T'[p:, :q]: b_tᴴ G_o(t+1) b_t
            k = torch.nonzero(j >= 0)[:, 0]
            if k.numel():
                v = bb[t0 + k]  # (K, b, s, n)
                fro2.index_add_(0, j[k], (v.conj() * (buf[k + 1] @ v[..., None])[..., 0]).sum(-1).real)
            j = start_t[steps]  # the blocks T[p:, :p]: tr(G_r(p) G_o(p))
            k = torch.nonzero(j >= 0)[:, 0]
            if k.numel():
                fro2.index_add_(0, j[k], (Gp[j[k]] * buf[k].conj()).sum((-2, -1)).real)
            j = end_t[steps]
            k = torch.nonzero(j >= 0)[:, 0]
            Goq[j[k]] = buf[k]
            buf[BOOK] = buf[0]  # G_o(t0) starts the next chunk
        phi = torch.ones(R, b, s, n, dtype=dtype)  # Π_{k=p..q-1} a_k
        for k in range(RANGE - 1):
            phi = torch.where((k < q - p)[:, None, None, None], phi * a[t_idx[:, k]], phi)
        per = max(1, CHUNK // (b * s))  # ranges per batch
        flat = lambda t, j0, j1: t[j0:j1].reshape(-1, b * s, *t.shape[3:])  # (ranges, groups, ...)
        certify = lambda j0: _full_rank(
            *(flat(t, j0, j0 + per) for t in (Gp, Goq, phi, fro2)), p[j0 : j0 + per], q[j0 : j0 + per], L, tol, atol
        ).reshape(-1, b, s)
        ok = torch.cat([certify(j0) for j0 in range(0, R, per)])  # (R, b, s)
        jj, bi, gi = torch.nonzero(~ok, as_tuple=True)  # (U,) each: ranges left to solve split by split
        per = max(1, CHUNK // RANGE)
        parts = [(jj[u : u + per], bi[u : u + per], gi[u : u + per]) for u in range(0, jj.numel(), per)]
        solve = lambda jbg: _split_ranks(a, bb, c, Gp[jbg], Goq[jbg], p[jbg[0]], q[jbg[0]], jbg[1], jbg[2], tol, atol)
        for jbg in parts:
            rank[jbg[0], :, jbg[1], g0 + jbg[2]] = solve(jbg)

    _each(one_pass, range(0, g, step), workers)
    rank = torch.where(valid[:, :, None, None], rank, torch.nan)  # offsets past q are not splits
    return rank.reshape(R * RANGE, b, g)[valid.reshape(-1)]  # (P, b, g) in split order


def _each(fn, items, workers: int) -> None:
    """fn(x) for x in items, on `workers` threads, each with one torch thread. Batched LAPACK calls
    (eigvalsh, Cholesky: most of the time here) run one matrix after another on one core whatever
    torch's thread count, and the elementwise steps are too small to gain from more threads (on a busy
    machine every parallel region waits for its slowest thread); threads that each take a share of
    the groups keep every core busy. A thread's first torch call takes the thread count set last."""
    items = list(items)
    workers = min(workers, len(items))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workers <= 1:
            for x in items:
                fn(x)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(fn, items))
    finally:
        torch.set_num_threads(before)


def _split_ranks(a, bb, c, Gp, Goq, p, q, bj, gj, tol, atol) -> torch.Tensor:
    """Ranges one by one (U of them, on group (bj, gj) each): G_r(p), G_o(q) (U, n, n), p, q (U,)
    -> ESS at every offset p + k, k < RANGE (U, RANGE); offsets past q get a number that is thrown away."""
    U, n = Gp.shape[0], Gp.shape[-1]
    L = a.shape[0]
    span = torch.arange(RANGE)
    fwd = (p[:, None] + span).clamp(max=L - 1)  # (U, RANGE) steps p + k
    back = (q[:, None] - span).clamp(min=0)  # (U, RANGE) steps q - m
    at = lambda x, t: x[t, bj, gj]  # (U, n) each range's factor at steps t (U,)
    Gr = [Gp]  # G_r(p + k) = (a aᴴ)∘G_r(p + k - 1) + b bᴴ at step p + k - 1
    for k in range(RANGE - 1):
        ak, bk = at(a, fwd[:, k]), at(bb, fwd[:, k])
        Gr.append(outer(ak, ak) * Gr[-1] + outer(bk, bk))
    Go = [Goq]  # G_o(q - m) = (aᴴa)∘(cᴴc + G_o(q - m + 1)) at step q - m
    for m in range(1, RANGE):
        am, cm = at(a, back[:, m]), at(c, back[:, m])
        Go.append(outer(am, am).conj() * (outer(cm.conj(), cm.conj()) + Go[-1]))
    Go = torch.stack(Go, 1)  # (U, RANGE, n, n) by m
    m = ((q - p)[:, None] - span).clamp(min=0)  # (U, RANGE): offset k is m = q - p - k
    Go = Go[torch.arange(U)[:, None], m]  # (U, RANGE, n, n) by offset k
    M = hankel_products(torch.stack(Gr, 1).reshape(-1, n, n), Go.reshape(-1, n, n))
    return count_above(M, tol * tol, atol * atol, test=False).reshape(U, RANGE).to(torch.float64)

"""ESS ranks from Gramians, with runs of consecutive splits certified full rank by one test.

For a diagonal realization T[r, c] = c_r (Π_{k=c+1..r} a_k) b_c and a range of splits p ≤ i ≤ q:
- T[q:, :p] is a submatrix of every T_i = T[i:, :i], so σ_n(T_i) ≥ σ_n(T[q:, :p]) (singular values of
  a submatrix interlace: none exceeds the matrix's own of the same index);
- every T_i is a submatrix of T'[p:, :q], T' being T without its diagonal (no T_i reaches it), so
  σ_1(T_i) ≤ ‖T'[p:, :q]‖_F.
T[q:, :p] = O_q diag(φ) R_p with φ = Π_{k=p..q-1} a_k: its σ² are eig(M), M = Sᴴ G_o(q) S, S Sᴴ = (φφᴴ)∘G_r(p).
‖T'[p:, :q]‖_F² splits into the block T[q:, :p], rows p..q-1 left of p, and columns p..q-1 below the diagonal:

    ‖T[q:, :p]‖² = tr((φφᴴ)∘G_r(p) · G_o(q))   (≤ tr M: the Cholesky jitter only adds to it)
    ‖T[r, :p]‖² = u_rᵀ G_r(p) ū_r,   u_r = c_r ∘ Π_{k=p..r} a_k
    ‖T[c+1:, c]‖² = Σ_{r=c+1..q-1} |T[r, c]|² + v_cᴴ G_o(q) v_c,   v_c = Π_{k=c+1..q-1} a_k ∘ b_c

(at most RANGE − 1 rows and columns, all from G_r(p), G_o(q) and the factors). So if M − θI is positive
definite (one Cholesky), with

    θ = (1 + MARGIN) · max(tol² ‖T'[p:, :q]‖_F², atol²),

every split of the range has σ_n above its threshold: ESS = n there, without a Gramian of its own.
Ranges that fail (rank below n somewhere, or a bound too loose) rebuild each split's Gramians from the
stored G_r(p) and G_o(q) (at most RANGE − 1 steps) and count eigenvalues per split (eigcount.py).
At the Mamba benchmark's splits about 60% of the splits are full rank and 91% of those are certified
by ranges of 4; the per-split work is left for the rest.

The Gramians are needed only at the ranges' ends, so the recursions G_r(t+1) = (a_t a_tᴴ)∘G_r(t) + b_t b_tᴴ
(and G_o, the same recursion run backwards) go a block of up to BLOCK steps at a time (`gramians`):

    G(τ') = (ΦΦᴴ)∘G(τ) + W Wᴴ,   Φ = Π_{t=τ..τ'-1} a_t,   W = [π_t b_t]_{t=τ..τ'-1},   π_t = Π_{k=t+1..τ'-1} a_k,

one multiply-add over the (n, n) Gramians per block instead of per step, and the rank-BLOCK products
W Wᴴ of many blocks in one batched matmul (products of at most BLOCK factors, in log space no safer).
It differs from the step-by-step recursion by rounding only (tests/test_gram_ranks.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from workbench.analysis.eigcount import count_above

JITTER = 1e-13  # relative to tr(G)/n: makes a rank-deficient Gramian Cholesky-factorable
RANGE = 4  # splits per range: more certify fewer splits (looser bounds), fewer leave more solves per split
MARGIN = 1e-6  # relative slack on the certificate's threshold: rounding in the Gramians cannot decide it
MIN_GROUPS = 16  # groups per worker thread at least: smaller passes are bound by Python's per-step overhead (one GIL)
CHUNK = 1024  # matrices per batch in the solves: each batch's factors and products stay in cache
BLOCK = 4  # time steps per block of the Gramian recursions: one multiply-add and a rank-BLOCK product each
BLOCKS = 16  # blocks whose update terms are formed at once: they stay in cache


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


def _checkpoints(targets: list[int], K: int) -> list[int]:
    """Ascending targets (≥ 1) -> times 0 = τ_0 < τ_1 < ... holding every target, at most K apart."""
    tau = [0]
    for t in targets:
        while t - tau[-1] > K:
            tau.append(tau[-1] + K)
        if t != tau[-1]:
            tau.append(t)
    return tau


def gramians(alpha, beta, targets: list[int], out: torch.Tensor, slots: list[int], reverse: bool = False) -> None:
    """x(t+1) = (α_t α_tᴴ)∘x(t) + β_t β_tᴴ from x(0) = 0, for α, β (T, b, s, n) (reverse: α_t = conj(alpha[T-1-t]),
    likewise β): writes x(targets[k]) to out[slots[k]]. A block of steps τ..τ'-1 (at most BLOCK) is one update,
        x(τ') = (Φ Φᴴ)∘x(τ) + W Wᴴ,   Φ = Π_{t=τ..τ'-1} α_t,   W = [π_t β_t]_t,   π_t = Π_{k=t+1..τ'-1} α_k,
    (unrolling the recursion: every β_t β_tᴴ decays by the α after it): one pass over the (b, s, n, n) state per
    block instead of one per step, and the rank-BLOCK sums W Wᴴ of many blocks in one batched product."""
    T, b, s, n = alpha.shape
    tau = _checkpoints(targets, BLOCK)
    slot = dict(zip(targets, slots))
    t0 = torch.tensor(tau[:-1])  # (Mb,) block starts
    k = torch.arange(BLOCK)
    pad = k[None, :] >= (torch.tensor(tau[1:]) - t0)[:, None]  # (Mb, K) steps past the block: α 1, β 0
    idx = (t0[:, None] + k).clamp(max=T - 1)  # (Mb, K)
    if reverse:
        idx = T - 1 - idx
    one = torch.ones((), dtype=alpha.dtype)
    cur = torch.zeros(b, s, n, n, dtype=alpha.dtype)  # x(0)
    for m0 in range(0, len(tau) - 1, BLOCKS):
        m1 = min(m0 + BLOCKS, len(tau) - 1)
        z = pad[m0:m1, :, None, None, None]
        al, be = alpha[idx[m0:m1]], beta[idx[m0:m1]]  # (m, K, b, s, n)
        if reverse:
            al, be = al.conj(), be.conj()
        al, be = torch.where(z, one, al), torch.where(z, 0 * one, be)
        W = torch.empty(*be.shape[:1], *be.shape[2:], BLOCK, dtype=be.dtype)  # π_t β_t (m, b, s, n, K)
        W[..., -1] = be[:, -1]
        P = al[:, -1]  # Π_{j ≥ k} α_j, k = K - 1, ..., 0 (a loop: cumprod over a flipped dim is ~15× slower)
        for k in range(BLOCK - 2, -1, -1):
            torch.mul(be[:, k], P, out=W[..., k])
            P = al[:, k] * P
        WW, PP = W @ W.mH, outer(P, P)  # (m, b, s, n, n) each; P = Φ
        for m in range(m1 - m0):
            j = slot.get(tau[m0 + m + 1])
            cur = torch.addcmul(WW[m], PP[m], cur, out=None if j is None else out[j])


def _range_terms(a, bb, c, Gp, Goq, p, q):
    """Ranges (R,) p..q on groups (b, s): factors (L, b, s, n), G_r(p), G_o(q) (R, b, s, n, n) ->
    φ = Π_{k=p..q-1} a_k (R, b, s, n) and ‖T'[p:, :q]‖_F² (R, b, s) less ‖T[q:, :p]‖_F² (the certificate adds it):
        Σ_{r=p..q-1} ‖T[r, :p]‖² + Σ_{c=p..q-1} ‖T[c+1:, c]‖²,
    rows p..q-1 left of p (u_r = c_r Π_{k=p..r} a_k against G_r(p)) and columns p..q-1 below the diagonal
    (rows c+1..q-1 entry by entry, rows from q on as v_c = Π_{k=c+1..q-1} a_k b_c against G_o(q))."""
    K = RANGE - 1
    L = a.shape[0]
    span = torch.arange(K)
    z = (span[None, :] >= (q - p)[:, None])[:, :, None, None, None]  # (R, K) steps p + k past q - 1
    t = (p[:, None] + span).clamp(max=L - 1)  # (R, K)
    one = torch.ones((), dtype=a.dtype)
    al = torch.where(z, one, a[t])  # (R, K, b, s, n): a 1, b 0, c 0 past q - 1
    be, ce = torch.where(z, 0 * one, bb[t]), torch.where(z, 0 * one, c[t])
    U, V = (torch.empty(*be.shape[:1], *be.shape[2:], K, dtype=be.dtype) for _ in range(2))  # (R, b, s, n, K)
    pre, suf = torch.ones_like(al[:, 0]), torch.ones_like(al[:, 0])
    for k in range(K):  # u_r = c_r Π_{k=p..r} a_k, v_c = Π_{k=c+1..q-1} a_k b_c (loops: see gramians)
        pre = pre * al[:, k]
        torch.mul(ce[:, k], pre, out=U[..., k])
        torch.mul(be[:, K - 1 - k], suf, out=V[..., K - 1 - k])
        suf = suf * al[:, K - 1 - k]
    phi = pre  # (R, b, s, n)
    fro2 = (U * (Gp @ U.conj())).sum((-2, -1)).real + (V.conj() * (Goq @ V)).sum((-2, -1)).real  # (R, b, s)
    for i in range(K - 1):  # T[r, c] for p ≤ c < r < q
        run = be[:, i]
        for r in range(i + 1, K):
            run = run * al[:, r]
            fro2 += (ce[:, r] * run).sum(-1).abs().square()
    return phi, fro2


def _full_rank(Gp, Goq, phi, fro2, p, q, L, tol, atol) -> torch.Tensor:
    """The certificate for ranges (R,) on groups (R, m): G_r(p), G_o(q) (R, m, n, n), φ (R, m, n), the
    Frobenius terms of _range_terms (R, m) -> (R, m) bool, True where every split p..q has ESS n."""
    R, m, n = phi.shape
    X = outer(phi, phi) * Gp  # (φφᴴ)∘G_r(p): T[q:, :p] = O_q diag(φ) R_p
    M = hankel_products(X.reshape(-1, n, n), Goq.reshape(-1, n, n))  # σ(T[q:, :p])² (R·m, n, n)
    diag = torch.diagonal(M, dim1=-2, dim2=-1)  # (R·m, n)
    # + tr M = ‖T[q:, :p]‖_F² + δ tr G_o(q) (the jitter: an upper bound still) = ‖T'[p:, :q]‖_F²
    fro2 = fro2 + diag.real.sum(-1).reshape(R, m)
    th = (1 + MARGIN) * torch.clamp(tol * tol * fro2, min=atol * atol)  # (R, m)
    diag -= th.reshape(-1, 1)
    ok = (torch.linalg.cholesky_ex(M)[1] == 0).reshape(R, m)
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
    span = torch.arange(RANGE)  # (RANGE,) offsets in a range
    valid = span[None, :] <= (q - p)[:, None]  # (R, RANGE) offsets that are splits
    rank = torch.full((R, RANGE, b, g), float(n), dtype=torch.float64)  # ESS per (range, offset)
    workers = max(1, min(torch.get_num_threads(), b * g // MIN_GROUPS))  # effective_state_size: the free cores
    step = max(1, budget // max(1, workers * b * 3 * R * n * n))  # groups per pass: bounds the stored Gramians
    passes = -(-(-(-g // step)) // workers) * workers  # a multiple of the workers: every worker has as many
    step = -(-g // passes)  # and passes of one size (the last may be short)

    def one_pass(g0):  # groups g0 : g0 + step, start to end; passes write disjoint groups of `rank`
        a, bb, c = A[:, :, g0 : g0 + step], B[:, :, g0 : g0 + step], C[:, :, g0 : g0 + step]  # (L, b, s, n)
        s = a.shape[2]
        Gp = torch.empty(R, b, s, n, n, dtype=dtype)  # G_r(p) per range: G_r(t+1) = (a_t a_tᴴ)∘G_r(t) + b_t b_tᴴ
        gramians(a, bb, p.tolist(), Gp, list(range(R)))
        Goq = torch.empty(R, b, s, n, n, dtype=dtype)  # G_o(q) per range: G_o(t) = (a_tᴴ a_t)∘(c_tᴴ c_t + G_o(t+1))
        # is the same recursion on conj(a), conj(a c) from the end: x(L - t) = G_o(t), ranges in reverse order
        gramians(a, a * c, (L - q).flip(0).tolist(), Goq, list(range(R - 1, -1, -1)), reverse=True)
        per = max(1, CHUNK // (b * s))  # ranges per batch

        def certify(j):  # ranges j (R',) -> (R', b, s) bool
            phi, fro2 = _range_terms(a, bb, c, Gp[j], Goq[j], p[j], q[j])
            flat = lambda t: t.reshape(t.shape[0], b * s, *t.shape[3:])  # (ranges, groups, ...)
            return _full_rank(*map(flat, (Gp[j], Goq[j], phi, fro2)), p[j], q[j], L, tol, atol).reshape(-1, b, s)

        ok = torch.cat([certify(slice(j0, j0 + per)) for j0 in range(0, R, per)])  # (R, b, s)
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
    span = torch.arange(RANGE - 1)
    at = lambda x, t: x[t, bj[:, None], gj[:, None]]  # (U, RANGE - 1, n) each range's factors at steps t
    t = (p[:, None] + span).clamp(max=L - 1)  # (U, RANGE - 1) steps p + k
    ar, br, co = at(a, t), at(bb, t), at(c, t)
    past = (span[None, :] >= (q - p)[:, None])[..., None]  # steps from q on: G_o(p + k) = G_o(q) there (a 1, c 0)
    ao, co = torch.where(past, torch.ones_like(ar), ar), torch.where(past, torch.zeros_like(co), co)
    ao, ac = ao.conj(), (ao * co).conj()
    Gr = torch.empty(U, RANGE, n, n, dtype=Gp.dtype)  # G_r(p + k) by offset k
    Go = torch.empty(U, RANGE, n, n, dtype=Gp.dtype)  # G_o(p + k) by offset k (≤ q - p)
    Gr[:, 0], Go[:, -1] = Gp, Goq
    for k in range(RANGE - 1):  # G_r(p+k+1) = (a aᴴ)∘G_r(p+k) + b bᴴ, G_o(p+k) = (aᴴa)∘(cᴴc + G_o(p+k+1)) at step p + k
        torch.addcmul(outer(br[:, k], br[:, k]), outer(ar[:, k], ar[:, k]), Gr[:, k], out=Gr[:, k + 1])
        j = RANGE - 2 - k  # (U, n, n) terms one step at a time: they stay in cache
        torch.addcmul(outer(ac[:, j], ac[:, j]), outer(ao[:, j], ao[:, j]), Go[:, j + 1], out=Go[:, j])
    M = hankel_products(Gr.reshape(-1, n, n), Go.reshape(-1, n, n))
    return count_above(M, tol * tol, atol * atol, test=False).reshape(U, RANGE).to(torch.float64)

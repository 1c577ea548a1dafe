"""Best neurons to add to a layer: the spectrum of S^{-1/2} N (TINY paper prop. 3.2, 3.3,
appendix B.3-B.4).

Given S = (1/n) B^T B (inputs of layer l, with the bias column) and N = (1/n) B^T V_proj
(V_proj: the desired update of layer l+1's pre-activations that its own best update dW*
cannot realise), the K neurons (alpha_k, omega_k) minimising
(1/n) ||V_proj - sum_k (B alpha_k) omega_k^T||^2 come from the SVD
S^{-1/2} N = sum_k lambda_k u_k v_k^T (Eckart-Young): alpha_k = S^{-T/2} u_k, omega_k = v_k,
scaled so that omega_k alpha_k^T carries lambda_k. Each neuron lowers the bottleneck, and the
loss at first order, by lambda_k^2 (prop. 3.2, (10)-(11)). Equivalently (prop. 3.3, B.4)
the alpha_k are the top generalised eigenvectors of N N^T alpha = mu S alpha with
mu_k = lambda_k^2 and N^T alpha_k = lambda_k v_k.

Routes:

- ``cholesky``: S = L L^T, SVD of L^{-1} N (prop. 3.2); every lambda_k (the whole spectrum).
- ``psd``: S only semi-definite (dead inputs, collinear features; appendix B.3). B.3 builds a
  square root from the SVD S = U Sigma U^T (the QR of sqrt(Sigma) U^T only rotates it,
  leaving lambda_k and alpha_k unchanged), so this route uses F^+ = Sigma_r^{-1/2} U_r^T on
  the numerically non-zero part of the spectrum: alpha_k lies in the span of the data.
- ``lobpcg``: the top k of the generalised eigenproblem with ``torch.lobpcg`` (prop. 3.3),
  no factorisation of S; for large layers (see ``LOBPCG_FROM``).

Inputs that are exactly zero on the whole batch (blank pixels) give zero rows and columns in
S; every route first drops them (their alpha entries are set to 0, which changes nothing on
this batch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

#: S sizes (layer width + 1) from which ``route="auto"`` uses LOBPCG for the top k instead of
#: Cholesky + SVD. ``python -m explorer.bench.tiny --threads 1`` (2-core CPU shared with other
#: jobs, 1 thread, float64; seconds per solve, Cholesky+SVD / LOBPCG):
#:   width 256:  d_out 10: 0.0028 / 0.63    d_out 256:  0.068 / 1.46
#:   width 1024: d_out 10: 0.12 / 10.6      d_out 1024: 1.29 / 9.05 (LOBPCG failed the check)
#:   width 4096: d_out 10: 1.76 / 138      d_out 4096: 151 / 289 (LOBPCG failed the check)
#: Cholesky + SVD won at every size (torch.lobpcg is unpreconditioned and converges slowly
#: on the spread spectra of S), so the crossover lies beyond the sizes measured: LOBPCG is
#: used only on request (``route="lobpcg"``). On a GPU the balance may differ; re-measure
#: with ``--device cuda``.
LOBPCG_FROM = 10**9
#: relative eigenvalue cut-off of S below which a direction counts as absent (psd route)
PSD_RTOL = 1e-10
ROUTES = ("auto", "cholesky", "psd", "lobpcg")


@dataclass
class BestNeurons:
    """Solution of prop. 3.2/3.3 for one layer, sorted by decreasing lambda_k.

    eigenvalues: lambda_k >= 0 (singular values of S^{-1/2} N); lambda_k^2 are the
        generalised eigenvalues of N N^T alpha = mu S alpha and the first-order gains;
    alpha: (d_in + 1) x R fan-ins, S-normalised (alpha_k^T S alpha_k = 1);
    omega: d_out x R unit fan-outs v_k, N^T alpha_k = lambda_k v_k.
    """

    eigenvalues: torch.Tensor
    alpha: torch.Tensor
    omega: torch.Tensor
    route: str
    seconds: float

    def on_inputs(self, live: torch.Tensor | None, size: int) -> BestNeurons:
        """The solution of a problem posed on the inputs ``live`` only (S and N restricted to
        them), with the fan-ins back on all ``size`` inputs (0 on the others, which are zero
        on the batch); itself when ``live`` is None."""
        if live is None:
            return self
        alpha = torch.zeros(size, self.alpha.shape[1], dtype=self.alpha.dtype, device=live.device)
        alpha[live] = self.alpha
        return BestNeurons(self.eigenvalues, alpha, self.omega, self.route, self.seconds)

    def scaled(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``count`` neurons with the product omega_k alpha_k^T = lambda_k v_k u_k^T
        S^{-1/2} split evenly: fan-in sqrt(lambda_k) alpha_k, fan-out sqrt(lambda_k) v_k."""
        root = self.eigenvalues[:count].clamp_min(0).sqrt()
        return self.alpha[:, :count] * root, self.omega[:, :count] * root


def _support(s: torch.Tensor) -> torch.Tensor | None:
    """Indices of inputs that are not identically zero on the batch (diag(S) > 0); None when
    that is every input (the usual case)."""
    d = torch.diagonal(s)
    if d.device.type == "cpu":  # the same comparisons in numpy: a few us instead of ~8 ops
        dn = d.detach().numpy()
        keep = dn > np.maximum(np.abs(dn).max(initial=0.0), 1e-300) * 1e-14
        if bool(keep.all()):
            return None
        return torch.from_numpy(np.flatnonzero(keep))
    idx = torch.nonzero(d > d.abs().max().clamp_min(1e-300) * 1e-14).flatten()
    return None if len(idx) == len(d) else idx


def _cholesky(s: torch.Tensor, n: torch.Tensor):
    lower, info = torch.linalg.cholesky_ex(s)
    if int(info) != 0:
        return None
    diag = torch.diagonal(lower)
    if float((diag.max() / diag.min()) ** 2) > 1.0 / PSD_RTOL:  # too ill-conditioned
        return None
    m = torch.linalg.solve_triangular(lower, n, upper=False)
    u, lam, vh = torch.linalg.svd(m, full_matrices=False)
    alpha = torch.linalg.solve_triangular(lower.T, u, upper=True)
    return lam, alpha, vh.T


def _psd(s: torch.Tensor, n: torch.Tensor):
    evals, evecs = torch.linalg.eigh(s)
    keep = evals > evals.max().clamp_min(0) * PSD_RTOL
    if not bool(keep.any()):
        d = s.shape[0]
        return (
            torch.zeros(0, dtype=s.dtype, device=s.device),
            torch.zeros(d, 0, dtype=s.dtype, device=s.device),
            torch.zeros(n.shape[1], 0, dtype=s.dtype, device=s.device),
        )
    root_inv = evecs[:, keep] / evals[keep].sqrt()  # U_r Sigma_r^{-1/2}
    u, lam, vh = torch.linalg.svd(root_inv.T @ n, full_matrices=False)
    return lam, root_inv @ u, vh.T


def _lobpcg(s: torch.Tensor, n: torch.Tensor, k: int, generator: torch.Generator | None):
    d = s.shape[0]
    x0 = torch.randn(d, k, generator=generator, dtype=s.dtype).to(s.device)
    a = n @ n.T
    mu, alpha = torch.lobpcg(a, k=k, B=s, X=x0, largest=True, niter=200, tol=1e-9)
    mu = mu.clamp_min(0)
    order = torch.argsort(mu, descending=True)
    mu, alpha = mu[order], alpha[:, order]
    # B-normalise (lobpcg returns B-orthonormal vectors up to rounding) and check the solution
    alpha = alpha / torch.sqrt(torch.einsum("ik,ij,jk->k", alpha, s, alpha)).clamp_min(1e-300)
    resid = a @ alpha - (s @ alpha) * mu
    scale = (a @ alpha).norm(dim=0) + (s @ alpha).norm(dim=0) * mu.max()
    if (
        not bool(torch.isfinite(resid).all())
        or float((resid.norm(dim=0) / scale.clamp_min(1e-300)).max()) > 1e-5
    ):
        return None
    lam = mu.sqrt()
    omega = (n.T @ alpha) / lam.clamp_min(1e-300)
    return lam, alpha, omega


def best_neurons(
    s: torch.Tensor,
    n: torch.Tensor,
    *,
    route: str = "auto",
    k: int | None = None,
    generator: torch.Generator | None = None,
    ridge: float = 0.0,
) -> BestNeurons:
    """Solve prop. 3.2/3.3 for S ((d+1) x (d+1)) and N ((d+1) x d_out), in float64.

    ``k`` bounds how many neurons LOBPCG computes (it needs 3k <= size); the direct routes
    return every lambda_k (min(rank S, d_out) of them). ``route="auto"``: LOBPCG from
    ``LOBPCG_FROM`` on, else Cholesky, falling back to the semi-definite route when S is
    singular or ill-conditioned (and to the direct routes when LOBPCG fails).

    ``ridge`` > 0 solves with S + ridge * mean(diag S) * I instead of S (Tikhonov). S^{-1/2}
    amplifies directions of tiny variance on the batch (a pixel lit in a few images), where
    the estimate is noisiest (sec. 3.4); on MNIST such fan-ins blew the test loss up to 4e4.
    With a ridge the lambda_k are those of the regularised problem, slightly below the exact
    ones, and alpha_k^T S alpha_k <= 1.
    """
    if route not in ROUTES:
        raise ValueError(f"unknown route '{route}'; accepted: {', '.join(ROUTES)}")
    if s.ndim != 2 or s.shape[0] != s.shape[1] or n.ndim != 2 or n.shape[0] != s.shape[0]:
        raise ValueError(
            f"S must be square and N have as many rows: got S {tuple(s.shape)}, N {tuple(n.shape)}"
        )
    t0 = time.perf_counter()
    dtype, full = s.dtype, s.shape[0]
    s64, n64 = s.double(), n.double()
    idx = _support(s64)
    if idx is None:  # every input present (the usual case): no copies
        s_r, n_r = s64, n64
    else:
        s_r, n_r = s64.index_select(0, idx).index_select(1, idx), n64.index_select(0, idx)
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    if ridge > 0 and s_r.numel():
        shift = ridge * torch.diagonal(s_r).mean()
        s_r = s_r.clone()  # S + shift I, without building I
        s_r.diagonal().add_(shift)
    size = s_r.shape[0]
    result, used = None, route
    want_lobpcg = route == "lobpcg" or (route == "auto" and size >= LOBPCG_FROM)
    if want_lobpcg:
        kk = min(int(k) if k else 16, n.shape[1], size // 3)
        if kk >= 1:
            try:
                result = _lobpcg(s_r, n_r, kk, generator)
            except (RuntimeError, ValueError, torch.linalg.LinAlgError):
                result = None
        used = "lobpcg"
    if result is None and route in ("auto", "cholesky", "lobpcg"):
        result, used = _cholesky(s_r, n_r), "cholesky"
        if result is None and route == "cholesky":
            raise torch.linalg.LinAlgError(
                "S is not positive definite (or too ill-conditioned)"
                " for the Cholesky route; use route='psd' or 'auto'"
            )
    if result is None:
        result, used = _psd(s_r, n_r), "psd"
    lam, alpha_r, omega = result
    alpha = alpha_r
    if idx is not None:
        alpha = torch.zeros(full, alpha_r.shape[1], dtype=torch.float64, device=s.device)
        alpha[idx] = alpha_r
    if s.device.type == "cuda":
        torch.cuda.synchronize(s.device)
    return BestNeurons(
        lam.to(dtype), alpha.to(dtype), omega.to(dtype), used, time.perf_counter() - t0
    )


#: threshold rules: ``paper`` lambda_k^2 L(f_theta) > tau (sec. 2.4 end, the default);
#: ``absolute`` lambda_k^2 > tau and ``relative`` lambda_k^2 > tau lambda_1^2 are departures
#: kept for comparison (``relative`` accepts the top neuron whatever tau, so growth never
#: stops by itself; ``absolute`` ignores that the gains shrink with the loss)
TAU_MODES = ("paper", "absolute", "relative")


def accepted_count(
    eigenvalues: torch.Tensor,
    tau: float,
    mode: str = "paper",
    cap: int | None = None,
    loss: float | None = None,
) -> int:
    """How many neurons pass the threshold, at most ``cap``: lambda_k^2 * loss > tau
    (``paper``, TINY sec. 3.2 end: "only if lambda_k^2 L(f_theta) > tau", ``loss`` being the
    estimation batch's loss before the move), lambda_k^2 > tau (``absolute``) or
    lambda_k^2 > tau * lambda_1^2 (``relative``)."""
    if mode not in TAU_MODES:
        raise ValueError(f"tau_mode must be one of {', '.join(TAU_MODES)}, got '{mode}'")
    if mode == "paper" and loss is None:
        raise ValueError("tau_mode 'paper' needs the loss L(f_theta)")
    # in Python floats (IEEE doubles: the same products and comparisons as float64 tensor
    # ops, for a few us instead of ~8 tensor ops)
    gains = [v * v for v in eigenvalues.double().tolist()]
    if not gains:
        return 0
    if mode == "paper":
        assert loss is not None  # checked above
        gains = [v * float(loss) for v in gains]
    limit = tau * _tensor_max(gains) if mode == "relative" else tau
    count = sum(v > limit for v in gains)
    return count if cap is None else min(count, max(int(cap), 0))


def _tensor_max(values: list[float]) -> float:
    """max as torch's: NaN when any value is NaN."""
    return math.nan if any(math.isnan(v) for v in values) else max(values)

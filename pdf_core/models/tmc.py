"""``tmc``: Trusted Multi-view Classification (Han et al., ICLR 2021) on text and image.

Per modality: evidence ``e = softplus(logits)``, Dirichlet ``alpha = e + 1``, strength
``S = sum(alpha)``; subjective opinion belief ``b_k = e_k / S`` and uncertainty ``u = K / S``
(so ``sum(b) + u = 1``). The two opinions are combined with the reduced Dempster–Shafer rule::

    C   = sum_{i != j} b1_i b2_j                    (conflict)
    b   = (b1 * b2 + b1 * u2 + b2 * u1) / (1 - C)
    u   = u1 * u2 / (1 - C)

and mapped back to a Dirichlet ``S = K / u``, ``alpha = b * S + 1``.

Loss (official code): for the text, the image and the combined Dirichlet, the mean over the batch
of the digamma cross-entropy ``sum_k y_k (psi(S) - psi(alpha_k))`` plus
``min(1, epochs_done / annealing_epochs) * KL(Dir(alpha~) || Dir(1))`` with
``alpha~ = y + (1 - y) * alpha`` (the evidence of the true class removed). ``epochs_done`` is the
number of finished epochs, i.e. the official 0-based epoch index during training.

Guards: none that changes a finite result of the original's arithmetic. ``1 - C`` is replaced (by
its cancellation-free form) only where it rounds to exactly 0; the combined uncertainty has no
floor (it is 0 only when ``u1 u2`` underflows, i.e. evidence beyond ~1e22, where the combined
strength is not representable in float32 anyway).

Outputs: ``logits = log(alpha_combined)`` (``alpha >= 1``: ``b * S >= 0``). Its argmax is the
argmax of ``alpha`` (the official prediction), and ``softmax(log alpha) = alpha / S`` is the
Dirichlet's expected class probability, so NLL and ECE computed from these "logits" are those of
TMC's predictive mean. ``txt_logits`` / ``img_logits`` are the heads' raw outputs (softplus is
monotone: their argmax is each opinion's). Fusion weights: ``weight_txt = 1 - u_txt``,
``weight_img = 1 - u_img`` (the belief mass each modality commits).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pdf_core.models.base import LateFusionBase


def opinion(alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Belief masses [B, K] and uncertainty [B] of Dirichlets ``alpha`` [B, K]."""
    strength = alpha.sum(dim=1, keepdim=True)
    return (alpha - 1) / strength, alpha.shape[1] / strength.squeeze(1)


def ds_combine(alpha1: torch.Tensor, alpha2: torch.Tensor) -> torch.Tensor:
    """Reduced Dempster–Shafer combination of two Dirichlet opinions; returns the combined alpha."""
    n_classes = alpha1.shape[1]
    b1, u1 = opinion(alpha1)
    b2, u2 = opinion(alpha2)
    agreement = (b1 * b2).sum(1)
    conflict = b1.sum(1) * b2.sum(1) - agreement  # sum over i != j of b1_i b2_j
    norm = 1 - conflict
    # 1 - C = u1 + u2 - u1 u2 + sum_k b1_k b2_k > 0 exactly (sum b + u = 1); it rounds to 0 when both
    # uncertainties vanish next to 1 (total conflict of huge evidences), where the original divides 0 by 0:
    # only there the same quantity in that cancellation-free form
    norm = torch.where(norm == 0, u1 + u2 - u1 * u2 + agreement, norm).unsqueeze(1)
    b = (b1 * b2 + b1 * u2.unsqueeze(1) + b2 * u1.unsqueeze(1)) / norm
    u = (u1 * u2).unsqueeze(1) / norm
    return b * (n_classes / u) + 1


def kl_to_uniform(alpha: torch.Tensor) -> torch.Tensor:
    """KL(Dir(alpha) || Dir(1, ..., 1)) per sample."""
    n_classes = alpha.shape[1]
    strength = alpha.sum(1)
    log_norm = torch.lgamma(strength) - torch.lgamma(alpha).sum(1) - torch.lgamma(alpha.new_tensor(float(n_classes)))
    return log_norm + ((alpha - 1) * (torch.digamma(alpha) - torch.digamma(strength).unsqueeze(1))).sum(1)


def evidential_loss(alpha: torch.Tensor, labels: torch.Tensor, annealing_coef: float) -> torch.Tensor:
    """Batch mean of digamma-CE + annealing_coef * KL(Dir(alpha~) || Dir(1))."""
    onehot = F.one_hot(labels, alpha.shape[1]).to(alpha.dtype)
    strength = alpha.sum(1, keepdim=True)
    ce = (onehot * (torch.digamma(strength) - torch.digamma(alpha))).sum(1)
    alpha_tilde = onehot + (1 - onehot) * alpha
    return (ce + annealing_coef * kl_to_uniform(alpha_tilde)).mean()


GROUP = "dynamic"
# this model's own keys under `models.tmc` (read by the registry without importing torch)
SETTINGS = {
    "annealing_epochs": {"type": "integer", "minimum": 0, "default": 10},  # KL weight ramps to 1 over these epochs
}


class TMC(LateFusionBase):
    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.annealing_epochs = hp.annealing_epochs
        # finished epochs; a buffer so a resumed run anneals from where it was
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))

    def annealing_coef(self) -> float:
        if self.annealing_epochs <= 0:
            return 1.0
        return min(1.0, int(self.epochs_done) / self.annealing_epochs)

    def forward(self, feats):
        txt_logits, img_logits = self.unimodal_logits(feats)
        txt_alpha, img_alpha = F.softplus(txt_logits) + 1, F.softplus(img_logits) + 1
        alpha = ds_combine(txt_alpha, img_alpha)
        _, u_txt = opinion(txt_alpha)
        _, u_img = opinion(img_alpha)
        return {
            "logits": alpha.log(),
            "alpha": alpha,
            "txt_logits": txt_logits,
            "img_logits": img_logits,
            "txt_alpha": txt_alpha,
            "img_alpha": img_alpha,
            "weight_txt": 1 - u_txt,
            "weight_img": 1 - u_img,
        }

    def loss(self, out, labels, index):
        coef = self.annealing_coef()
        return sum(evidential_loss(out[key], labels, coef) for key in ("txt_alpha", "img_alpha", "alpha"))

    def on_epoch_end(self, epoch: int) -> None:
        self.epochs_done.fill_(epoch)


MODEL = TMC

"""QMF — Quality-aware Multimodal Fusion (Zhang et al., ICML 2023), as the official code does it.

Source: QingyangZhang/QMF, first commit (8c16860, the paper-era code): ``train_df.py``
(``model_forward``, ``rank_loss``), ``src/models/late_fusion.py`` (energy, fusion) and
``src/utils/utils.py`` (``History``).

* confidence of a modality = ``logsumexp(logits) / 10`` (the negative energy at T = 1; the official
  code computes ``log(sum(exp))``, which overflows — the stable form is always used here);
* fused logits = ``txt_logits * c_txt.detach() + img_logits * c_img.detach()``;
* loss = CE(txt) + CE(img) [+ CE(fused)] + rank_weight * (rank(txt) + rank(img)). The paper-era
  ``train_df.py`` trained on CE(txt) + CE(img) + ranking only (its CE on the fused logits is in the
  eval branch); the later ``text-image-classification/train_qmf.py`` adds CE(fused) to the training
  loss. ``fused_ce: true`` (default) is the later form, ``fused_ce: false`` the paper-era one;
* ranking term: a per-sample *cumulative* unimodal CE loss over all epochs (the history) is updated
  first, min–max normalised over the training set; each sample is paired with the next one in the
  batch (``roll(-1)``); target = sign of the history difference; ``MarginRankingLoss(margin=0)`` on
  (c1, c2 + |h1 - h2| / target) with label ``-target``, so a sample with larger historical loss is
  pushed to lower confidence.

History normalisation (``models.qmf.history_norm``):

* ``observed`` (default) — min–max over the training set's current histories. This *is* the
  original: ``History.correctness_normalize`` uses ``self.correctness.max()``; its
  ``max_correctness`` line is commented out there (dead code).
* ``epoch_counter`` — a variant that uses that dead line: the maximum is the ``max_correctness``
  counter, which starts at 1 and grows by 1 at the end of every epoch after the first (it counted
  epochs of 0/1 correctness in CRL, where it was the true maximum); with cumulative *losses* it is
  unrelated to their scale, so normalised values leave [0, 1] and the margins are mis-scaled.
  The minimum stays the observed one. The counter is a buffer, so resumed runs keep it.

The numerically unstable ``log(sum(exp))`` of the official energy is never reproduced.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pdf_core.models.base import LateFusionBase

ENERGY_SCALE = 10.0  # the official code divides the energy by 10


def energy_confidence(logits: torch.Tensor) -> torch.Tensor:
    """Negative free energy at T = 1, scaled: ``logsumexp(logits) / 10`` (stable form)."""
    return torch.logsumexp(logits, dim=1) / ENERGY_SCALE


def fuse(txt_logits, img_logits, txt_conf, img_conf) -> torch.Tensor:
    """Confidence-weighted sum; the weights are detached, as in the official code."""
    return txt_logits * txt_conf.detach().unsqueeze(1) + img_logits * img_conf.detach().unsqueeze(1)


def normalized_history(
    history: torch.Tensor, index: torch.Tensor, hi: torch.Tensor | float | None = None
) -> torch.Tensor:
    """Min–max normalisation of the cumulative losses of ``index`` over the whole training set.

    ``hi`` replaces the observed maximum (the ``max_correctness`` counter of the ``epoch_counter``
    variant). Any non-zero denominator is the original's, however small; a *negative* one (counter
    below the smallest history, possible with ``epoch_counter``) flips every target as that counter
    line would. A zero one (all histories equal, where the original divides 0 by 0) becomes 1: the
    normalised values are then the raw differences, 0 under ``observed``.
    """
    lo = history.min()
    hi = history.max() if hi is None else torch.as_tensor(hi, dtype=history.dtype, device=history.device)
    span = hi - lo
    span = torch.where(span == 0, torch.ones_like(span), span)
    return (history[index] - lo) / span


def rank_targets(
    history: torch.Tensor, index: torch.Tensor, hi: torch.Tensor | float | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pair each sample with the next in the batch; returns (index2, target, margin)."""
    index2 = torch.roll(index, -1)
    h1, h2 = normalized_history(history, index, hi), normalized_history(history, index2, hi)
    target = torch.sign(h1 - h2)
    return index2, target, (h1 - h2).abs()


def rank_loss(
    confidence: torch.Tensor, history: torch.Tensor, index: torch.Tensor, hi: torch.Tensor | float | None = None
) -> torch.Tensor:
    _, target, margin = rank_targets(history, index, hi)
    target, margin = target.to(confidence.dtype), margin.to(confidence.dtype)
    conf2 = torch.roll(confidence, -1)
    # target 0 (equal histories) divides the margin by 1, as the official code does
    safe_target = torch.where(target == 0, torch.ones_like(target), target)
    return F.margin_ranking_loss(confidence, conf2 + margin / safe_target, -target, margin=0.0)


GROUP = "dynamic"
# this model's own keys under `models.qmf` (read by the registry without importing torch)
SETTINGS = {
    "rank_weight": {"type": "number", "minimum": 0, "default": 1.0},  # weight of the ranking regulariser
    # observed: min-max over the history (the original) | epoch_counter: the original's unused counter line
    "history_norm": {"enum": ["observed", "epoch_counter"], "default": "observed"},
    # CE on the fused logits in the training loss: true = later train_qmf.py, false = paper-era train_df.py
    "fused_ce": {"type": "boolean", "default": True},
}


class QMF(LateFusionBase):
    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        self.rank_weight = hp.rank_weight
        self.history_norm = hp.history_norm
        self.fused_ce = bool(hp.fused_ce)
        if self.history_norm not in ("observed", "epoch_counter"):
            raise ValueError(f"qmf history_norm must be 'observed' or 'epoch_counter', not {self.history_norm!r}")
        # Cumulative per-sample CE loss of each modality over all epochs; a buffer so checkpoints carry it.
        self.register_buffer("txt_history", torch.zeros(n_train, dtype=torch.float64))
        self.register_buffer("img_history", torch.zeros(n_train, dtype=torch.float64))
        if self.history_norm == "epoch_counter":
            # the max_correctness counter; only registered when used, so default checkpoints keep their keys
            self.register_buffer("max_correctness", torch.ones((), dtype=torch.float64))

    def forward(self, feats):
        txt_logits, img_logits = self.unimodal_logits(feats)
        txt_conf, img_conf = energy_confidence(txt_logits), energy_confidence(img_logits)
        return {
            "logits": fuse(txt_logits, img_logits, txt_conf, img_conf),
            "txt_logits": txt_logits,
            "img_logits": img_logits,
            "weight_txt": txt_conf,
            "weight_img": img_conf,
        }

    def loss(self, out, labels, index):
        txt_ce = F.cross_entropy(out["txt_logits"], labels, reduction="none")
        img_ce = F.cross_entropy(out["img_logits"], labels, reduction="none")
        fused = F.cross_entropy(out["logits"], labels) if self.fused_ce else 0.0
        clf = fused + txt_ce.mean() + img_ce.mean()
        # history first, then the ranking term (official order)
        self.txt_history.index_add_(0, index, txt_ce.detach().double())
        self.img_history.index_add_(0, index, img_ce.detach().double())
        hi = self.max_correctness if self.history_norm == "epoch_counter" else None
        rank = rank_loss(out["weight_txt"], self.txt_history, index, hi) + rank_loss(
            out["weight_img"], self.img_history, index, hi
        )
        return clf + self.rank_weight * rank

    def on_epoch_end(self, epoch: int) -> None:
        if self.history_norm == "epoch_counter" and epoch > 1:  # the original's History.max_correctness_update
            self.max_correctness += 1


MODEL = QMF

"""A small neural text model that sees word order, and its stack with the char n-gram model.

``subword_cnn``: the paragraph's words as subword-composed vectors learned from the corpus
(``features/subwords.py``, cached by corpus fingerprint) → 1-D convolutions of widths 2–5, max-pooled,
plus a small convolution over the title and the mean vector of the neighbouring paragraphs → one hidden
layer → a topic softmax and one sigmoid per frame (the frame loss only on ``frames_topic`` paragraphs).
The word vectors are fine-tuned. It trains on a grouped share of the labels and tunes its frame
thresholds on the rest (``validation_share``), in torch on the CPU.

``stacked``: the linear family and ``subword_cnn`` side by side; a logistic regression per task over both
models' log-probabilities, fitted on the CNN's validation share with the linear heads' out-of-fold
probabilities there, so the stacker never sees a prediction on a paragraph its model was trained on.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, cross_val_predict

from ctframe.features.subwords import SubwordVectors, corpus_vectors, tokenizer
from ctframe.train.families import Family, register
from ctframe.train.families.linear import LinearSVCFrames
from ctframe.train.model import FrameModel, as_frame

_FIELDS = ("text", "title", "context")


class SubwordCNN(FrameModel):
    """CNN over corpus-learned subword vectors (see the module docstring). ``pretrain_*`` are the word
    vectors' parameters; the vectors learn from the corpus paragraphs dated before ``pretrain_before``, which
    must not be later than the first holdout date (checked with the config) nor the test set's dates."""

    def __init__(self, topics=(), frames=(), frames_topic="", normalize=None, corpus=None, threshold="tuned",
                 seed=0, dim=100, pretrain_seconds=290.0, pretrain_steps=None, pretrain_lr=0.01,
                 pretrain_before="2015-08-06",
                 filters=96, hidden=192, dropout=0.4, epochs=6, lr=0.002, embedding_lr=0.003, batch=64,
                 text_len=120, title_len=24, context_len=200, frame_weight=3.0, validation_share=0.2, threads=1):
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.normalize = normalize
        self.corpus = corpus
        self.threshold = threshold
        self.seed = seed
        self.dim = dim
        self.pretrain_seconds = pretrain_seconds
        self.pretrain_steps = pretrain_steps
        self.pretrain_lr = pretrain_lr
        self.pretrain_before = pretrain_before
        self.filters = filters
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.embedding_lr = embedding_lr
        self.batch = batch
        self.text_len = text_len
        self.title_len = title_len
        self.context_len = context_len
        self.frame_weight = frame_weight
        self.validation_share = validation_share
        self.threads = threads

    # -- inputs ---------------------------------------------------------------------------------------
    def _lengths(self) -> dict[str, int]:
        return {"text": self.text_len, "title": self.title_len, "context": self.context_len}

    def _ids(self, frame, types: dict[str, int], grow: bool) -> tuple[dict[str, np.ndarray], list[str]]:
        """Each field's word ids (0 pads), padded to its longest row. Words not in ``types`` are added
        (``grow``) or given ids past the table, returned as ``extra`` to be composed from the vectors."""
        tokenize, extra, fields = tokenizer(self.normalize), {}, {}
        for field, limit in self._lengths().items():
            rows = []
            for text in frame[field]:
                ids = []
                for word in tokenize(text)[:limit]:
                    if word not in types and (grow or word not in extra):
                        if grow:
                            types[word] = len(types) + 1
                        else:
                            extra[word] = len(types) + 1 + len(extra)
                    ids.append(types.get(word) or extra[word])
                rows.append(ids)
            matrix = np.zeros((len(rows), max(1, max(map(len, rows), default=1))), dtype=np.int64)
            for i, ids in enumerate(rows):
                matrix[i, :len(ids)] = ids
            fields[field] = matrix
        return fields, list(extra)

    def _vectors(self) -> SubwordVectors:
        params = {"dim": self.dim, "seconds": self.pretrain_seconds, "max_steps": self.pretrain_steps,
                  "lr": self.pretrain_lr, "normalize": self.normalize, "seed": self.seed}
        self.vectors_path_ = corpus_vectors(params, (self.corpus or {}).get("path"), self.pretrain_before)
        return SubwordVectors.load(self.vectors_path_)

    # -- fit / predict --------------------------------------------------------------------------------
    def fit(self, texts, topics, frames, groups=None):
        import torch

        self.vectors_ = self._vectors()  # before the thread count is set: the vectors use every core
        torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        frame, topics = as_frame(texts).reset_index(drop=True), np.asarray(topics)
        groups = np.arange(len(frame)) if groups is None else np.asarray(groups)
        Y = self.frame_matrix(frames)
        self.check_frames(Y[topics == self.frames_topic], 4)
        train_idx, held_idx = next(GroupShuffleSplit(1, test_size=self.validation_share, random_state=self.seed)
                                   .split(frame, groups=groups))
        self.types_: dict[str, int] = {}
        ids, _ = self._ids(frame.iloc[train_idx], self.types_, grow=True)
        table = np.vstack([np.zeros((1, self.dim), np.float32), self.vectors_.vectors(list(self.types_))])
        self.net_ = _network(self, table)
        self._train(ids, np.array([self.topics.index(t) for t in topics[train_idx]]), Y[train_idx])
        self.validation_index_ = held_idx
        topic_p, frame_p = self.predict_proba(frame.iloc[held_idx])
        self.validation_proba_ = (topic_p, frame_p)
        framed = topics[held_idx] == self.frames_topic
        self.check_frames(Y[held_idx][framed], 1)  # thresholds are tuned on the held-out share alone
        self.thresholds_ = self.tune_thresholds(Y[held_idx][framed], frame_p[framed], self.threshold)
        return self

    def _train(self, ids: dict[str, np.ndarray], topics: np.ndarray, Y: np.ndarray) -> None:
        import torch
        from torch.nn import functional
        from tqdm import tqdm

        net, rng = self.net_, np.random.default_rng(self.seed)
        dense = [p for name, p in net.named_parameters() if name != "embedding.weight"]
        optimizer = torch.optim.AdamW(dense, lr=self.lr, weight_decay=1e-4)
        sparse = torch.optim.SparseAdam([net.embedding.weight], lr=self.embedding_lr) if self.embedding_lr else None
        steps = self.epochs * -(-len(topics) // self.batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=steps, pct_start=0.1)
        tensors = {k: torch.from_numpy(v) for k, v in ids.items()}
        topic_t, frame_t = torch.from_numpy(topics), torch.from_numpy(Y).float()
        framed = (topic_t == self.topics.index(self.frames_topic)).float()
        net.train()
        for _ in tqdm(range(self.epochs), desc="cnn epochs", unit="epoch", leave=False, disable=None):
            order = rng.permutation(len(topics))
            for start in range(0, len(order), self.batch):
                rows = torch.from_numpy(order[start:start + self.batch])
                topic_logits, frame_logits = net(*(_trim(tensors[f][rows]) for f in _FIELDS))
                loss = functional.cross_entropy(topic_logits, topic_t[rows])
                weight = framed[rows]
                if weight.sum() > 0:
                    bce = functional.binary_cross_entropy_with_logits(frame_logits, frame_t[rows], reduction="none")
                    loss = loss + self.frame_weight * (bce.mean(1) * weight).sum() / len(rows)
                optimizer.zero_grad()
                if sparse:
                    sparse.zero_grad()
                loss.backward()
                optimizer.step()
                if sparse:
                    sparse.step()
                schedule.step()
        net.eval()

    def predict_proba(self, texts, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        import torch

        torch.set_num_threads(self.threads)
        frame = as_frame(texts).reset_index(drop=True)
        ids, extra = self._ids(frame, self.types_, grow=False)
        table = self.net_.embedding.weight.detach()
        if extra:  # unseen words: composed from the corpus vectors, not fine-tuned
            table = torch.cat([table, torch.from_numpy(self.vectors_.vectors(extra))])
        topic_p, frame_p = [], []
        with torch.no_grad():
            for start in range(0, len(frame), batch):
                logits = self.net_(*(_trim(torch.from_numpy(ids[f][start:start + batch])) for f in _FIELDS),
                                   table=table)
                topic_p.append(torch.softmax(logits[0], 1).numpy())
                frame_p.append(torch.sigmoid(logits[1]).numpy())
        empty = (np.zeros((0, len(self.topics))), np.zeros((0, len(self.frames))))
        return (np.concatenate(topic_p), np.concatenate(frame_p)) if topic_p else empty

    def representations(self) -> list[Path]:
        return [self.vectors_path_]

    def save(self, folder: Path) -> list[Path]:
        """The network's weights (torch's format) and the word vectors (npz)."""
        import torch

        weights, vectors = Path(folder) / "cnn.pt", Path(folder) / "vectors.npz"
        torch.save({"state": self.net_.state_dict(), "types": self.types_}, weights)
        shutil.copyfile(self.vectors_path_, vectors)
        return [weights, vectors]


def _trim(ids):
    """A padded batch cut to its longest row (padding is at the end)."""
    return ids[:, : max(1, int((ids > 0).sum(1).max()))]


def _network(model: SubwordCNN, table: np.ndarray):
    """The torch module of ``model``'s shape, its embedding initialised with ``table`` (row 0 pads)."""
    import torch
    from torch import nn
    from torch.nn import functional

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            dim, k = table.shape[1], model.filters
            self.embedding = nn.Embedding.from_pretrained(torch.from_numpy(table), freeze=not model.embedding_lr,
                                                          padding_idx=0, sparse=bool(model.embedding_lr))
            self.text_convs = nn.ModuleList(nn.Conv1d(dim, k, w, padding=w // 2) for w in (2, 3, 4, 5))
            self.title_convs = nn.ModuleList(nn.Conv1d(dim, k // 2, w, padding=w // 2) for w in (2, 3))
            self.context = nn.Linear(dim, 64)
            self.drop = nn.Dropout(model.dropout)
            self.hidden = nn.Linear(4 * k + 2 * (k // 2) + 64 + dim, model.hidden)
            self.topic = nn.Linear(model.hidden, len(model.topics))
            self.frames = nn.Linear(model.hidden, len(model.frames))

        @staticmethod
        def pooled(x, mask, convs):
            h = x.transpose(1, 2)
            return torch.cat([functional.relu(conv(h))[:, :, : mask.shape[1]].masked_fill(~mask[:, None, :], 0.0)
                              .max(2).values for conv in convs], 1)

        @staticmethod
        def mean(x, mask):
            m = mask.float().unsqueeze(2)
            return (x * m).sum(1) / m.sum(1).clamp(min=1)

        def forward(self, text, title, context, table=None):
            embed = self.embedding if table is None else (lambda ids: functional.embedding(ids, table, 0))
            xt = embed(text)
            z = torch.cat([self.pooled(self.drop(xt), text > 0, self.text_convs), self.mean(xt, text > 0),
                           self.pooled(self.drop(embed(title)), title > 0, self.title_convs),
                           functional.relu(self.context(self.mean(embed(context), context > 0)))], 1)
            h = self.drop(functional.relu(self.hidden(self.drop(z))))
            return self.topic(h), self.frames(h)

    return Network()


class StackedFrames(FrameModel):
    """The linear family and ``subword_cnn``, combined by logistic regressions (module docstring).
    ``linear`` and ``neural`` override the two families' own ``model`` defaults."""

    def __init__(self, topics=(), frames=(), frames_topic="", normalize=None, features=None, corpus=None,
                 threshold="tuned", seed=0, linear=None, neural=None, C=1.0):
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.normalize = normalize
        self.features = features
        self.corpus = corpus
        self.threshold = threshold
        self.seed = seed
        self.linear = linear
        self.neural = neural
        self.C = C

    def _members(self):
        schema = {"topics": self.topics, "frames": self.frames, "frames_topic": self.frames_topic,
                  "normalize": self.normalize, "threshold": self.threshold, "seed": self.seed}
        return (LinearSVCFrames(**schema, features=self.features, **(self.linear or {})),
                SubwordCNN(**schema, corpus=self.corpus, **(self.neural or {})))

    def _topic_inputs(self, linear_p, neural_p):
        return np.log(np.clip(np.hstack([linear_p, neural_p]), 1e-6, 1))

    def _frame_inputs(self, linear_p, neural_p):
        both = np.clip(np.hstack([linear_p, neural_p]), 1e-6, 1 - 1e-6)
        return np.log(both / (1 - both))

    def fit(self, texts, topics, frames, groups=None):
        frame, topics = as_frame(texts).reset_index(drop=True), np.asarray(topics)
        groups = np.arange(len(frame)) if groups is None else np.asarray(groups)
        self.linear_, self.neural_ = self._members()
        self.linear_.fit(frame, topics, frames, groups=groups)
        self.neural_.fit(frame, topics, frames, groups=groups)
        held = self.neural_.validation_index_
        framed_rows = np.flatnonzero(topics == self.frames_topic)
        linear_topic = self.in_topic_order(self.linear_.topic_model_.oof_proba_[held],
                                           self.linear_.topic_model_.classes_)
        held_framed = held[topics[held] == self.frames_topic]
        at = np.searchsorted(framed_rows, held_framed)
        linear_frames = np.column_stack([m.oof_proba_[at, 1] for m in self.linear_.frame_models_])
        neural_topic, neural_frames = self.neural_.validation_proba_
        self.topic_stacker_ = LogisticRegression(C=self.C, max_iter=1000).fit(
            self._topic_inputs(linear_topic, neural_topic), topics[held])
        in_framed = topics[held] == self.frames_topic
        X = self._frame_inputs(linear_frames, neural_frames[in_framed])
        Y = self.frame_matrix(frames)[held_framed]
        self.check_frames(Y, 4)
        stacker = LogisticRegression(C=self.C, max_iter=1000)
        self.frame_stackers_ = [clone(stacker).fit(X, Y[:, j]) for j in range(Y.shape[1])]
        oof = np.column_stack([cross_val_predict(stacker, X, Y[:, j], groups=groups[held_framed], cv=GroupKFold(4),
                                                 method="predict_proba")[:, 1] for j in range(Y.shape[1])])
        self.thresholds_ = self.tune_thresholds(Y, oof, self.threshold)
        return self

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        frame = as_frame(texts)
        (linear_topic, linear_frames), (neural_topic, neural_frames) = \
            self.linear_.predict_proba(frame), self.neural_.predict_proba(frame)
        topic_p = self.in_topic_order(self.topic_stacker_.predict_proba(self._topic_inputs(linear_topic, neural_topic)),
                                      self.topic_stacker_.classes_)
        X = self._frame_inputs(linear_frames, neural_frames)
        return topic_p, np.column_stack([s.predict_proba(X)[:, 1] for s in self.frame_stackers_])

    def representations(self) -> list[Path]:
        return self.neural_.representations()

    def save(self, folder: Path) -> list[Path]:
        return [*self.linear_.save(folder), *self.neural_.save(folder)]


register(Family("subword_cnn", SubwordCNN, exportable=False,
                description="CNN over subword vectors learned from the corpus (torch, CPU); a candidate"))
register(Family("stacked", StackedFrames, exportable=False,
                description="linear_svc and subword_cnn, stacked by logistic regression; a candidate"))

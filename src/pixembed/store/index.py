"""The in-memory FAISS indexes of one collection, keyed by SQLite rowid.

Every vector is held twice: in float32 (IndexFlatIP), and as int8 codes (``int8_codes``), a quarter of
the bytes, which a search scans first (split across the cores, ``parallel_scan``); the best candidates
of that scan are then re-scored in float32. A single-query scan is bound by memory bandwidth, which is
why the smaller scan pays (docs/benchmarks.md).

- Up to ``exact_max`` vectors, search is exact. All codes are scanned, and the rounding error of every
  code is bounded, so after the re-rank it is checked that no vector outside the candidates can beat the
  k-th result. When that check fails (near-ties at the candidate cut-off) the float32 vectors are scanned.
  Vectors added after the last fit that the codes represent badly (a value beyond the fitted range gets
  clipped) are kept aside as outliers and re-scored with every query, so they cannot loosen the bound.
- Above ``exact_max``, an inverted file (FAISS IVF over the same int8 codes) scans only the lists nearest
  the query: approximate, with the recall measured in docs/benchmarks.md.

The codes' scale (and the IVF's lists) are refitted whenever the collection has doubled since the last
fit, so the cost of refitting stays proportional to what was added.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pixembed.store import saved_ivf
from pixembed.store.int8_codes import Int8Codec, score_error_bound
from pixembed.store.parallel_scan import ShardedCodes, all_cores, probe_lists
from pixembed.store.saved_ivf import FittedIvf, ivf_ids

# faiss's bundled stubs lack its selectors and search parameters, so it is used untyped here.
faiss: Any = importlib.import_module("faiss")
# Searches here are one query vector at a time, which FAISS's OpenMP threads do not speed up (measured
# slower on the 2-core machine, docs/benchmarks.md); ``parallel_scan`` splits a query's scan over the
# cores instead.
faiss.omp_set_num_threads(1)

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]

# Candidates taken from the int8 scan and re-scored in float32: enough that the exactness check almost
# always passes (measured: all of 200 queries on clustered data, 199 of 200 on uniform random data).
RERANK_MIN = 100
RERANK_PER_RESULT = 4
# Inverted lists of about this many vectors when trained (the scan cost per probed list), each list's
# centre trained from IVF_TRAIN_PER_LIST vectors (FAISS asks for at least 39).
IVF_LIST_SIZE = 256
IVF_TRAIN_PER_LIST = 40
# Lists probed per query: the lists nearest the query, as many as it takes to scan IVF_SCAN_TARGET
# vectors (at least IVF_PROBE_MIN lists, at most IVF_PROBE_MAX). A budget in vectors rather than a share of
# the lists keeps the latency steady: on clustered data the lists near a query are the large ones
# (measured on the benchmark's clustered vectors at 500k: the 4 nearest lists held 9,000 vectors, 9x the
# average; probing at least 4 lists instead of 2 doubled p50 at the same recall, see docs/benchmarks.md).
IVF_SCAN_TARGET = 5000
IVF_PROBE_MIN = 2
IVF_PROBE_MAX = 256
# The error limit for well-coded vectors, relative to the largest error when the codes were fitted.
ERROR_SLACK = 1.1
# Outliers re-scored with every query before the codes are refitted.
OUTLIERS_MAX = 1_000
# Below this many candidates a filtered search is answered exactly from the float32 vectors.
EXACT_CANDIDATES_MAX = 20_000


class CollectionIndex:
    """Vectors of one collection by rowid, searched exactly or through an inverted file."""

    def __init__(self, dimensions: int, exact_max: int) -> None:
        self.dimensions = dimensions
        self.exact_max = exact_max
        self._lock = threading.RLock()
        self._vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dimensions))
        self._codec: Int8Codec | None = None
        self._codes: Any = None
        self._fitted_count = 0
        self._error_limit = 0.0
        self._decoded_norm_max = 0.0
        self._outliers: set[int] = set()
        self.max_seq = 0
        # Vectors an approximate search aims to scan (see IVF_SCAN_TARGET).
        self.scan_target = IVF_SCAN_TARGET
        # Exact searches the error bound could not settle, answered by the float32 scan (for benchmarks).
        self.full_scans = 0
        # False while the index is what was last saved or restored (``fitted_ivf``), so it need not be saved.
        self.changed = True

    @property
    def approximate(self) -> bool:
        """True once the collection outgrew exact search."""
        return isinstance(self._codes, faiss.IndexIVF)

    @property
    def live_count(self) -> int:
        """Vectors that can be found."""
        return int(self._vectors.ntotal)

    def add(self, rowids: Ids, vectors: Vectors) -> None:
        """Add vectors under new rowids (callers remove a rowid before re-adding it)."""
        with self._lock:
            self.changed = True
            rowids = rowids.astype(np.int64)
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            self._vectors.add_with_ids(vectors, rowids)
            if len(rowids):
                self.max_seq = max(self.max_seq, int(rowids.max()))
            count = self.live_count
            if (
                self._codec is None
                or count >= 2 * self._fitted_count
                or (count > self.exact_max and not self.approximate)
            ):
                self._refit()
                return
            with all_cores():  # assigning a batch to the inverted lists is a batched search
                self._add_codes(rowids, vectors)
            if len(self._outliers) > OUTLIERS_MAX:
                self._refit()

    def load(self, batches: Iterable[tuple[Ids, Vectors]], saved: FittedIvf | None = None) -> None:
        """Fill an empty index from stored batches, fitting the codes (and the IVF) once at the end.

        Adding the batches one by one would refit every time the collection doubled; opening a store of a
        million vectors that way trained the IVF three times. With ``saved`` (this collection's inverted
        file as it was saved, ``saved_ivf``), nothing is trained when it still describes the rows: only the
        rows added since are coded.
        """
        with self._lock:
            assert self.live_count == 0, "load() fills an empty index"
            newer: list[tuple[Ids, Vectors]] = []
            covered: list[Ids] = [np.zeros(0, np.int64)]  # stored rows the saved file should hold
            for rowids, vectors in batches:
                self._vectors.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rowids)
                if len(rowids):
                    self.max_seq = max(self.max_seq, int(rowids.max()))
                if saved is not None:
                    after = rowids > saved.max_seq
                    covered.append(rowids[~after])
                    if after.any():
                        newer.append((rowids[after], np.array(vectors[after], dtype=np.float32)))
            if saved is None or not self._restore(saved, np.concatenate(covered)):
                self._refit()
                return
            self.changed = bool(newer)
            with all_cores():
                for rowids, vectors in newer:
                    self._add_codes(rowids, vectors)
            if self.live_count >= 2 * self._fitted_count or len(self._outliers) > OUTLIERS_MAX:
                self._refit()

    def _restore(self, saved: FittedIvf, covered: Ids) -> bool:
        """Take ``saved`` as this index's codes if it holds exactly the ``covered`` rowids."""
        if (
            len(covered) != saved.count
            or self.live_count <= self.exact_max
            or int(saved.ivf.d) != self.dimensions
            or int(saved.ivf.ntotal) != saved.count
            or not np.array_equal(ivf_ids(saved.ivf), np.sort(covered))
        ):
            return False
        self._codec = Int8Codec(saved.scale)
        self._codes = saved.ivf
        self._error_limit = saved.error_limit
        self._decoded_norm_max = saved.decoded_norm_max
        self._fitted_count = saved.fitted_count
        self._outliers = {int(r) for r in saved.outliers}
        return True

    def save_ivf(self, path: Path) -> None:
        """Save the trained inverted file to ``path`` if it changed since it was last saved or restored
        (under the index's lock, so no write can change it halfway through)."""
        with self._lock:
            fitted = self.fitted_ivf()
            if fitted is not None and self.changed:
                saved_ivf.save(path, fitted)
                self.changed = False

    def fitted_ivf(self) -> FittedIvf | None:
        """The inverted file and its fitted state, to save (None in exact mode: refitting is quick there)."""
        with self._lock:
            if not self.approximate or self._codec is None:
                return None
            return FittedIvf(
                ivf=self._codes,
                scale=self._codec.scale,
                error_limit=self._error_limit,
                decoded_norm_max=self._decoded_norm_max,
                fitted_count=self._fitted_count,
                outliers=np.fromiter(self._outliers, dtype=np.int64, count=len(self._outliers)),
                max_seq=self.max_seq,
                count=self.live_count,
            )

    def remove(self, rowids: Ids) -> None:
        """Forget rowids."""
        with self._lock:
            self.changed = True
            rowids = rowids.astype(np.int64)
            self._vectors.remove_ids(rowids)
            if self._codes is not None:
                self._codes.remove_ids(rowids)
            self._outliers.difference_update(int(r) for r in rowids)
            if self.approximate and self.live_count <= self.exact_max:
                self._refit()

    def _stored(self) -> tuple[Ids, Vectors]:
        """Rowids and float32 vectors held, as views into FAISS's own arrays (no copy of the vectors)."""
        flat = faiss.downcast_index(self._vectors.index)
        count = int(flat.ntotal)
        ids = faiss.vector_to_array(self._vectors.id_map).astype(np.int64)
        if count == 0:
            return ids, np.zeros((0, self.dimensions), np.float32)
        vectors = faiss.rev_swig_ptr(flat.get_xb(), count * self.dimensions).reshape(count, self.dimensions)
        return ids, vectors

    def _refit(self) -> None:
        """Fit the codes' scale to every vector held and re-encode them; IVF above ``exact_max``."""
        with all_cores():
            self._refit_codes()

    def _refit_codes(self) -> None:
        ids, vectors = self._stored()
        self._decoded_norm_max = 0.0
        self._outliers = set()
        self._fitted_count = len(ids)
        if len(ids) == 0:
            self._codec, self._codes = None, None
            return
        self._codec = Int8Codec.fit(vectors, per_dimension=len(ids) <= self.exact_max)
        self._error_limit = ERROR_SLACK * max(
            float(self._codec.encode(vectors[start : start + 50_000]).errors.max())
            for start in range(0, len(ids), 50_000)
        )
        if len(ids) > self.exact_max:
            self._codes = self._trained_ivf(vectors)
        else:
            self._codes = ShardedCodes(self.dimensions)
        for start in range(0, len(ids), 50_000):
            self._add_codes(ids[start : start + 50_000], vectors[start : start + 50_000])

    def _trained_ivf(self, vectors: Vectors) -> Any:
        assert self._codec is not None
        lists = max(1, len(vectors) // max(IVF_LIST_SIZE, IVF_TRAIN_PER_LIST))
        quantizer = faiss.IndexFlatIP(self.dimensions)
        ivf = faiss.IndexIVFScalarQuantizer(
            quantizer,
            self.dimensions,
            lists,
            faiss.ScalarQuantizer.QT_8bit_direct_signed,
            faiss.METRIC_INNER_PRODUCT,
            False,
        )
        ivf.cp.niter = 10
        sample_size = min(len(vectors), lists * IVF_TRAIN_PER_LIST)
        sample = np.random.default_rng(0).choice(len(vectors), sample_size, replace=False)
        ivf.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST
        ivf.train(np.ascontiguousarray(vectors[np.sort(sample)] * self._codec.scale, dtype=np.float32))
        return ivf

    def _add_codes(self, rowids: Ids, vectors: Vectors) -> None:
        assert self._codec is not None
        encoded = self._codec.encode(vectors)
        self._codes.add_with_ids(encoded.codes, rowids)
        if len(rowids):
            self._outliers.update(int(r) for r in rowids[encoded.errors > self._error_limit])
            self._decoded_norm_max = max(self._decoded_norm_max, float(encoded.decoded_norms.max()))

    def search(self, query: Vectors, top_k: int, candidates: Ids | None = None) -> tuple[Ids, Vectors]:
        """Rowids and scores of the best ``top_k``, limited to ``candidates`` when given."""
        with self._lock:
            query = np.ascontiguousarray(query.reshape(-1), dtype=np.float32)
            if self.live_count == 0 or top_k < 1 or self._codec is None:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            selector = None
            if candidates is not None:
                if len(candidates) <= EXACT_CANDIDATES_MAX:
                    return self._exact_among(query, candidates, top_k)
                selector = faiss.IDSelectorBatch(candidates.astype(np.int64))
            if not self.approximate:
                return self._exact(query, top_k, candidates, selector)
            ids, scores = self._probe(query, top_k, candidates, selector)
            if candidates is not None and len(ids) < min(top_k, len(candidates)):
                # The filter passes too few vectors in the probed lists: answer it exactly instead.
                return self._exact_among(query, candidates, top_k)
            return ids, scores

    def _with_outliers(self, found: Ids, candidates: Ids | None) -> Ids:
        """``found`` plus the outliers (among ``candidates`` when given), each once."""
        if not self._outliers:
            return found
        outliers = np.fromiter(self._outliers, dtype=np.int64, count=len(self._outliers))
        if candidates is not None:
            outliers = outliers[np.isin(outliers, candidates)]
        return np.concatenate([found, outliers[~np.isin(outliers, found)]])

    def _exact(
        self, query: Vectors, top_k: int, candidates: Ids | None, selector: Any
    ) -> tuple[Ids, Vectors]:
        assert self._codec is not None
        wanted = max(RERANK_MIN, RERANK_PER_RESULT * top_k)
        if wanted < self.live_count:
            encoded = self._codec.encode_query(query)
            found = self._codes.search(encoded.codes, wanted, selector)
            ids, scores = self._rerank(query, self._with_outliers(found.ids, candidates), top_k)
            if found.cutoff is None:  # every vector that passes the selector was re-scored
                return ids, scores
            bound = score_error_bound(
                float(np.linalg.norm(query)), encoded.error, self._error_limit, self._decoded_norm_max
            )
            # A well-coded vector outside the candidates scores at most the cut-off plus the bound.
            if len(ids) == top_k and scores[-1] >= found.cutoff / encoded.scale + bound:
                return ids, scores
            self.full_scans += 1
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores_found, ids_found = self._vectors.search(query.reshape(1, -1), top_k, params=params)
        found = ids_found[0] >= 0
        return ids_found[0][found], scores_found[0][found]

    def _probe(
        self, query: Vectors, top_k: int, candidates: Ids | None, selector: Any
    ) -> tuple[Ids, Vectors]:
        assert self._codec is not None
        encoded = self._codec.encode_query(query)
        codes = encoded.codes.reshape(1, -1)
        centre_scores, nearest = self._codes.quantizer.search(
            codes, min(int(self._codes.nlist), IVF_PROBE_MAX)
        )
        probes, scanned = 0, 0
        for list_no in nearest[0]:  # nearest lists first, until the scan target is reached
            if list_no < 0 or (probes >= IVF_PROBE_MIN and scanned >= self.scan_target):
                break
            probes += 1
            scanned += self._codes.invlists.list_size(int(list_no))
        wanted = max(RERANK_MIN, RERANK_PER_RESULT * top_k)
        found = probe_lists(
            self._codes, encoded.codes, nearest[0, :probes], centre_scores[0, :probes], wanted, selector
        )
        # The search is approximate anyway: re-score only the best estimates of all the shares.
        best = found.ids
        if len(best) > wanted:
            best = best[np.argpartition(-found.estimates, wanted)[:wanted]]
        return self._rerank(query, self._with_outliers(best, candidates), top_k)

    def _rerank(self, query: Vectors, candidates: Ids, top_k: int) -> tuple[Ids, Vectors]:
        if len(candidates) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = self._vectors.reconstruct_batch(candidates) @ query
        order = np.argsort(-scores, kind="stable")[:top_k]
        return candidates[order], scores[order].astype(np.float32)

    def _exact_among(self, query: Vectors, candidates: Ids, top_k: int) -> tuple[Ids, Vectors]:
        return self._rerank(query, candidates.astype(np.int64), top_k)

"""The exact trusted lists: the names a stored model may use without ``trusted=True``.

docs/security.md lists the same names; a test keeps the two equal.
"""

from __future__ import annotations

#: named exactly. None of them evaluates strings, imports modules or touches the system.
SKOPS_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # numpy: dtype objects (OneHotEncoder(dtype=...), recorded column dtypes).
        "numpy.dtype",
        # Fitted trees and boosting internals.
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils._bunch.Bunch",
        # Calibration and neural-network internals.
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # Search results keep their splitter and scorer.
        "sklearn.model_selection._split.GroupKFold",
        "sklearn.model_selection._split.KFold",
        "sklearn.model_selection._split.RepeatedKFold",
        "sklearn.model_selection._split.RepeatedStratifiedKFold",
        "sklearn.model_selection._split.ShuffleSplit",
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.model_selection._split.StratifiedShuffleSplit",
        "sklearn.model_selection._split.TimeSeriesSplit",
        "sklearn.metrics._scorer._PassthroughScorer",
        "sklearn.metrics._scorer._Scorer",
        # Metric functions a scorer holds.
        "sklearn.metrics._classification.accuracy_score",
        "sklearn.metrics._classification.balanced_accuracy_score",
        "sklearn.metrics._classification.f1_score",
        "sklearn.metrics._classification.log_loss",
        "sklearn.metrics._classification.precision_score",
        "sklearn.metrics._classification.recall_score",
        "sklearn.metrics._ranking.average_precision_score",
        "sklearn.metrics._ranking.roc_auc_score",
        "sklearn.metrics._regression.mean_absolute_error",
        "sklearn.metrics._regression.mean_squared_error",
        "sklearn.metrics._regression.r2_score",
        # Score functions of feature selectors.
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
        "sklearn.feature_selection._mutual_info.mutual_info_regression",
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.r_regression",
        # HistGradientBoosting with categorical features: partial(check_array, ...).
        "functools.partial",
        "sklearn.utils.validation.check_array",
        # Column selection by dtype (make_column_selector(dtype_include=object|np.number)):
        # the selector keeps a regex pattern and type references, and evaluates neither.
        "builtins.object",
        "numpy.number",
        "sklearn.compose._column_transformer.make_column_selector",
        # Dates and times an encoder learned as categories (a date column read from a
        # table arrives as datetime.date objects): rebuilt from their packed bytes only.
        "datetime.date",
        "datetime.datetime",
        "datetime.time",
        "datetime.timedelta",
        # Nearest neighbours: the fitted search trees and their distance metrics (arrays
        # and parameters only; the metric is chosen by class, not by name lookup).
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._kd_tree.KDTree",
        # SplineTransformer.
        "scipy.interpolate._bsplines.BSpline",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
    }
)

#: Model classes a boosting model file may name, exactly (``module:Qualified``).
XGBOOST_CLASSES: frozenset[str] = frozenset(
    {
        "xgboost.core:Booster",
        "xgboost.sklearn:XGBModel",
        "xgboost.sklearn:XGBClassifier",
        "xgboost.sklearn:XGBRegressor",
        "xgboost.sklearn:XGBRanker",
        "xgboost.sklearn:XGBRFClassifier",
        "xgboost.sklearn:XGBRFRegressor",
    }
)
LIGHTGBM_CLASSES: frozenset[str] = frozenset(
    {
        "lightgbm.basic:Booster",
        "lightgbm.sklearn:LGBMModel",
        "lightgbm.sklearn:LGBMClassifier",
        "lightgbm.sklearn:LGBMRegressor",
        "lightgbm.sklearn:LGBMRanker",
    }
)

#: PyTorch modules a state dict may name by class without ``trusted=True`` (``module:Name``):
#: torch's own layers, built from JSON-able constructor arguments only.
TORCH_CLASSES: frozenset[str] = frozenset(
    {
        "torch.nn.modules.batchnorm:BatchNorm1d",
        "torch.nn.modules.batchnorm:BatchNorm2d",
        "torch.nn.modules.conv:Conv1d",
        "torch.nn.modules.conv:Conv2d",
        "torch.nn.modules.conv:Conv3d",
        "torch.nn.modules.linear:Bilinear",
        "torch.nn.modules.linear:Identity",
        "torch.nn.modules.linear:Linear",
        "torch.nn.modules.normalization:LayerNorm",
        "torch.nn.modules.rnn:GRU",
        "torch.nn.modules.rnn:LSTM",
        "torch.nn.modules.rnn:RNN",
        "torch.nn.modules.sparse:Embedding",
        "torch.nn.modules.sparse:EmbeddingBag",
    }
)

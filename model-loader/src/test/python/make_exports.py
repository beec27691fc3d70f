#!/usr/bin/python3
"""Makes the exported models the contract tests serve, from real scikit-learn models.

Run with Debian's python3-sklearn and python3-onnx (apt-get install python3-sklearn python3-onnx; PyPI is not needed):

    /usr/bin/python3 model-loader/src/test/python/make_exports.py model-loader/src/test/resources/exports

Each model goes to <out>/<name>/model.onnx, with expected.json: inputs and what scikit-learn (or numpy, for the
hand-built network) answers for them, which the tests compare the served predictions with. The classifier is the
graph skl2onnx writes for a GradientBoostingClassifier by default: TreeEnsembleClassifier (label int64[N] and
class probabilities) followed by ZipMap (seq(map(int64, float))), built here from the fitted trees because skl2onnx
is not packaged for Debian.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

OPSETS = [helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)]


def save(out, name, graph, expected):
    model = helper.make_model(graph, opset_imports=OPSETS, producer_name="make_exports.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.join(out, name), exist_ok=True)
    onnx.save(model, os.path.join(out, name, "model.onnx"))
    with open(os.path.join(out, name, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def gradient_boosted_classifier(out, string_labels=False):
    iris = load_iris()
    x = iris.data.astype(np.float32)
    y = np.array(iris.target_names)[iris.target] if string_labels else iris.target
    clf = GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=7).fit(x, y)
    classes = [str(c) for c in clf.classes_] if string_labels else [int(c) for c in clf.classes_]
    key_type = TensorProto.STRING if string_labels else TensorProto.INT64
    labels_attr = "classlabels_strings" if string_labels else "classlabels_int64s"
    attrs = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                             "nodes_truenodeids", "nodes_falsenodeids", "class_treeids", "class_nodeids",
                             "class_ids", "class_weights"]}
    tree_id = 0
    for stage in clf.estimators_:
        for k, regressor in enumerate(stage):
            t = regressor.tree_
            for node in range(t.node_count):
                leaf = t.children_left[node] == -1
                attrs["nodes_treeids"].append(tree_id)
                attrs["nodes_nodeids"].append(node)
                attrs["nodes_featureids"].append(0 if leaf else int(t.feature[node]))
                attrs["nodes_values"].append(0.0 if leaf else float(t.threshold[node]))
                attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                attrs["nodes_truenodeids"].append(0 if leaf else int(t.children_left[node]))
                attrs["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[node]))
                if leaf:
                    attrs["class_treeids"].append(tree_id)
                    attrs["class_nodeids"].append(node)
                    attrs["class_ids"].append(k)
                    attrs["class_weights"].append(float(t.value[node][0][0] * clf.learning_rate))
            tree_id += 1
    # the initial estimator's raw prediction (log of the class priors) is the same for every row
    base = clf._raw_predict_init(x[:1])[0]
    ensemble = helper.make_node("TreeEnsembleClassifier", ["input"], ["label", "probability_tensor"],
                                domain="ai.onnx.ml", post_transform="SOFTMAX",
                                base_values=[float(b) for b in base], **{labels_attr: classes}, **attrs)
    map_type = onnx.TypeProto()  # map(int64 or string, tensor(float)), as ZipMap declares it
    map_type.map_type.key_type = key_type
    map_type.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    zipmap = helper.make_node("ZipMap", ["probability_tensor"], ["probabilities"], domain="ai.onnx.ml",
                              **{labels_attr: classes})
    graph = helper.make_graph(
        [ensemble, zipmap], "gradient_boosted_iris",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("label", key_type, [None]),
         helper.make_value_info("probabilities", helper.make_sequence_type_proto(map_type))])
    rows = x[::10]
    save(out, "gbt-classifier-names" if string_labels else "gbt-classifier", graph, {
        "source": "sklearn.ensemble.GradientBoostingClassifier(n_estimators=12, max_depth=3) on iris"
                  + (", classes by name" if string_labels else ""),
        "inputs": rows.tolist(),
        "predict": [str(v) if string_labels else int(v) for v in clf.predict(rows)],
        "predict_proba": clf.predict_proba(rows).tolist(),
        "classes": classes,
    })


def gradient_boosted_tensor_reordered(out):
    """The same kind of classifier exported another way: TreeEnsembleClassifier alone (as skl2onnx writes it with
    zipmap=False), its probability tensor's columns in the class order [2, 0, 1] of its classlabels, and an int64
    label. Combined with the ZipMap export by position, an ensemble would mix up the classes."""
    iris = load_iris()
    x = iris.data.astype(np.float32)
    clf = GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=7).fit(x, iris.target)
    order = [2, 0, 1]
    position = {label: at for at, label in enumerate(order)}
    attrs = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                             "nodes_truenodeids", "nodes_falsenodeids", "class_treeids", "class_nodeids",
                             "class_ids", "class_weights"]}
    tree_id = 0
    for stage in clf.estimators_:
        for k, regressor in enumerate(stage):
            t = regressor.tree_
            for node in range(t.node_count):
                leaf = t.children_left[node] == -1
                attrs["nodes_treeids"].append(tree_id)
                attrs["nodes_nodeids"].append(node)
                attrs["nodes_featureids"].append(0 if leaf else int(t.feature[node]))
                attrs["nodes_values"].append(0.0 if leaf else float(t.threshold[node]))
                attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                attrs["nodes_truenodeids"].append(0 if leaf else int(t.children_left[node]))
                attrs["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[node]))
                if leaf:
                    attrs["class_treeids"].append(tree_id)
                    attrs["class_nodeids"].append(node)
                    attrs["class_ids"].append(position[int(clf.classes_[k])])
                    attrs["class_weights"].append(float(t.value[node][0][0] * clf.learning_rate))
            tree_id += 1
    base = clf._raw_predict_init(x[:1])[0]
    reordered_base = [0.0] * 3
    for k, b in enumerate(base):
        reordered_base[position[int(clf.classes_[k])]] = float(b)
    ensemble = helper.make_node("TreeEnsembleClassifier", ["input"], ["label", "probabilities"],
                                domain="ai.onnx.ml", post_transform="SOFTMAX", base_values=reordered_base,
                                classlabels_int64s=order, **attrs)
    graph = helper.make_graph(
        [ensemble], "gradient_boosted_iris_tensor",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3])])
    rows = x[::10]
    save(out, "gbt-classifier-tensor", graph, {
        "source": "sklearn.ensemble.GradientBoostingClassifier(n_estimators=12, max_depth=3) on iris, exported"
                  " without ZipMap, probability columns in class order [2, 0, 1]",
        "inputs": rows.tolist(),
        "predict": [int(v) for v in clf.predict(rows)],
        "predict_proba": clf.predict_proba(rows).tolist(),
        "classes": [int(c) for c in clf.classes_],
        "column_classes": order,
    })


def double_regressor(out):
    """A float64 linear regressor (skl2onnx with DoubleTensorType): input double [N,6], output double [N,1]."""
    x, y = load_diabetes(return_X_y=True)
    x = x[:, :6] * 100.0 + 1000.0  # values whose float32 rounding shows in the answer
    reg = LinearRegression().fit(x, y)
    w = numpy_helper.from_array(reg.coef_.astype(np.float64).reshape(6, 1), "coef")
    b = numpy_helper.from_array(np.array([reg.intercept_], dtype=np.float64), "intercept")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "coef"], ["product"]),
         helper.make_node("Add", ["product", "intercept"], ["variable"])],
        "linear_regression_diabetes_double",
        [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [None, 6])],
        [helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1])], [w, b])
    rows = x[::40]
    save(out, "double-regressor", graph, {
        "source": "sklearn.linear_model.LinearRegression on diabetes (6 features, scaled by 100 and shifted by 1000),"
                  " float64 input and output [N,1]",
        "inputs": rows.tolist(),
        "predict": reg.predict(rows).tolist(),
        "predict_from_float32_inputs": reg.predict(rows.astype(np.float32).astype(np.float64)).tolist(),
    })


def fixed_batch_network(out):
    """A network as torch.onnx.export writes it without dynamic_axes: input float [1,16], output float [1,2]."""
    rng = np.random.default_rng(5)
    w1 = rng.normal(size=(16, 8)).astype(np.float32) * 0.5
    b1 = rng.normal(size=(8,)).astype(np.float32) * 0.1
    w2 = rng.normal(size=(8, 2)).astype(np.float32)
    b2 = rng.normal(size=(2,)).astype(np.float32) * 0.1
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["input", "w1", "b1"], ["hidden"]),
         helper.make_node("Relu", ["hidden"], ["activated"]),
         helper.make_node("Gemm", ["activated", "w2", "b2"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["output"], axis=1)],
        "fixed_batch_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")])
    inputs = rng.normal(size=(12, 16)).astype(np.float32)
    logits = np.maximum(inputs @ w1 + b1, 0) @ w2 + b2
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    save(out, "fixed-batch", graph, {
        "source": "a 16-8-2 MLP with a fixed batch dimension [1,16], as torch.onnx.export writes it without"
                  " dynamic_axes; probabilities computed by numpy",
        "inputs": inputs.tolist(),
        "probabilities": probabilities.tolist(),
    })


def pca_embedding(out):
    """A PCA as an embedding [N,2] with its reconstruction [N,4] as a second output (passed through)."""
    x = load_iris().data.astype(np.float32)
    pca = PCA(n_components=2, random_state=3).fit(x)
    mean = numpy_helper.from_array(pca.mean_.astype(np.float32), "mean")
    components_t = numpy_helper.from_array(pca.components_.T.astype(np.float32), "components_t")
    components = numpy_helper.from_array(pca.components_.astype(np.float32), "components")
    graph = helper.make_graph(
        [helper.make_node("Sub", ["input", "mean"], ["centered"]),
         helper.make_node("MatMul", ["centered", "components_t"], ["embedding"]),
         helper.make_node("MatMul", ["embedding", "components"], ["projected"]),
         helper.make_node("Add", ["projected", "mean"], ["reconstruction"])],
        "pca_iris",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, 2]),
         helper.make_tensor_value_info("reconstruction", TensorProto.FLOAT, [None, 4])],
        [mean, components_t, components])
    rows = x[::12]
    save(out, "pca-embedding", graph, {
        "source": "sklearn.decomposition.PCA(n_components=2) on iris: transform as the embedding,"
                  " inverse_transform as a second output",
        "inputs": rows.tolist(),
        "transform": pca.transform(rows).tolist(),
        "inverse_transform": pca.inverse_transform(pca.transform(rows)).tolist(),
    })


def regressor(out):
    x, y = load_diabetes(return_X_y=True)
    x = x[:, :6].astype(np.float32)
    reg = LinearRegression().fit(x, y)
    w = numpy_helper.from_array(reg.coef_.astype(np.float32).reshape(6, 1), "coef")
    b = numpy_helper.from_array(np.array([reg.intercept_], dtype=np.float32), "intercept")
    shape = numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "coef"], ["product"]),
         helper.make_node("Add", ["product", "intercept"], ["column"]),
         helper.make_node("Reshape", ["column", "flat"], ["variable"])],
        "linear_regression_diabetes",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 6])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None])], [w, b, shape])
    rows = x[::40]
    save(out, "regressor", graph, {
        "source": "sklearn.linear_model.LinearRegression on diabetes (6 features), output float[N]",
        "inputs": rows.tolist(),
        "predict": reg.predict(rows).tolist(),
    })


def sigmoid_classifier(out):
    x, y = load_breast_cancer(return_X_y=True)
    x = (x[:, :5] / x[:, :5].max(axis=0)).astype(np.float32)
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    w = numpy_helper.from_array(clf.coef_.astype(np.float32).reshape(5, 1), "coef")
    b = numpy_helper.from_array(clf.intercept_.astype(np.float32), "intercept")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "coef"], ["product"]),
         helper.make_node("Add", ["product", "intercept"], ["logit"]),
         helper.make_node("Sigmoid", ["logit"], ["probability"])],
        "logistic_regression_breast_cancer",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 5])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [None, 1])], [w, b])
    rows = x[::30]
    save(out, "sigmoid-classifier", graph, {
        "source": "sklearn.linear_model.LogisticRegression on breast cancer (5 scaled features), sigmoid [N,1]",
        "inputs": rows.tolist(),
        "predict": [int(v) for v in clf.predict(rows)],
        "predict_proba": clf.predict_proba(rows).tolist(),
    })


def multi_input(out):
    """A network with a float input and an int64 input: a category's learned embedding beside numeric features."""
    rng = np.random.default_rng(11)
    table = rng.normal(size=(5, 3)).astype(np.float32)
    w = rng.normal(size=(3 + 3, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["embedding_table", "category"], ["looked_up"], axis=0),
         helper.make_node("Squeeze", ["looked_up", "axis1"], ["category_vector"]),
         helper.make_node("Concat", ["numeric", "category_vector"], ["joined"], axis=1),
         helper.make_node("MatMul", ["joined", "weights"], ["logit"]),
         helper.make_node("Sigmoid", ["logit"], ["score"])],
        "numeric_and_category",
        [helper.make_tensor_value_info("numeric", TensorProto.FLOAT, [None, 3]),
         helper.make_tensor_value_info("category", TensorProto.INT64, [None, 1])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(table, "embedding_table"), numpy_helper.from_array(w, "weights"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    numeric = rng.normal(size=(8, 3)).astype(np.float32)
    category = rng.integers(0, 5, size=(8, 1))
    joined = np.concatenate([numeric, table[category[:, 0]]], axis=1)
    score = 1 / (1 + np.exp(-(joined @ w)))
    save(out, "multi-input", graph, {
        "source": "a float [N,3] and an int64 [N,1] input (embedding lookup), sigmoid score [N,1], computed by numpy",
        "numeric": numeric.tolist(),
        "category": category[:, 0].tolist(),
        "score": score[:, 0].tolist(),
    })


def training_rows(out):
    """The classifier's training rows with its predictions on them, one JSON object per line: what 'models baseline'
    computes the training baseline of drift monitoring from."""
    iris = load_iris()
    x = iris.data.astype(np.float32)
    clf = GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=7).fit(x, iris.target)
    with open(os.path.join(out, "gbt-classifier", "train.jsonl"), "w") as f:
        for row, label in zip(x, clf.predict(x)):
            f.write(json.dumps({"x": [float(v) for v in row], "label": str(int(label))}) + "\n")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "model-loader/src/test/resources/exports"
    gradient_boosted_classifier(target)
    gradient_boosted_classifier(target, string_labels=True)
    gradient_boosted_tensor_reordered(target)
    double_regressor(target)
    fixed_batch_network(target)
    training_rows(target)
    pca_embedding(target)
    regressor(target)
    sigmoid_classifier(target)
    multi_input(target)
    print("wrote", sorted(os.listdir(target)))

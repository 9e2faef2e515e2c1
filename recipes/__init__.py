"""Training recipes of handloop's zoo: frame records, the synthetic generator, the real-dataset readers, tf.data
pipelines, the training tasks and one YAML recipe per zoo entry. Builds on :mod:`handloop.zoo`."""

"""Front ends that score with an exported model: the pyfunc, `ctframe score`, `ctframe serve`, Spark."""

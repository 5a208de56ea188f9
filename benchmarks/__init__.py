"""Speed and memory comparisons against peers measured in the same run (`make bench`)."""

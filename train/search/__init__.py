"""Search and reporting: experiments of many configs, the comparison table and report, outlet transfer."""

"""The grid market maker: two-sided maker quotes whose skew reduces inventory, a momentum filter
that pauses quoting against a trend, and fast re-quotes (``params``, ``quoting``, ``signals``,
``requote``); a ``naive`` mode keeps the original grid for comparison."""

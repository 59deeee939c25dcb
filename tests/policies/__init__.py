"""The pure decisions of policies/: availability statistics, deadline policies, retry."""

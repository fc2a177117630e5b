"""The simulated exchange: matching (book), persisted state (store), price sources (feeds), fault injection."""

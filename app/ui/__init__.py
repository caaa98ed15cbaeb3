"""Streamlit pages. Layout only: every action calls the Workspace API."""

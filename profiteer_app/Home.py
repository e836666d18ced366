"""Profiteer app entry point (placeholder until the app issue fills it in)."""

import streamlit as st

st.set_page_config(page_title="Profiteer", layout="wide")
st.title("Profiteer")
st.info("The dashboard arrives with the metrics assets.")

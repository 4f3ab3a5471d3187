"""Load a house register into a database table with pandas.

Usage: python import_pandas.py HOUSES.csv sqlite:///PATH.db
"""

import sys

import pandas as pd
import sqlalchemy as sa

houses = pd.read_csv(sys.argv[1])
engine = sa.create_engine(sys.argv[2])
houses.to_sql("houses_import", engine, if_exists="append", index=False, chunksize=10_000)
engine.dispose()

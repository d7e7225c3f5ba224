"""Extract PostgreSQL metadata for the K data catalog (the collector method).

Copy this script and kada_postgres_extractor_config.json next to each other, fill in the config,
and schedule:  python kada_postgres_extractor.py --config kada_postgres_extractor_config.json
The HWM file (<name>_hwm.txt) is kept in the current folder: each run covers what is new since
the last successful one. If the run fails, the HWM is not published and the next run repeats it.
"""

import argparse
import os

from kada_collectors.extractors.postgres import Extractor
from kada_collectors.extractors.utils import get_generic_logger, get_hwm, load_config, publish_hwm

get_generic_logger('root')  # Set to use the root logger, you can change the context accordingly or define your own logger

_type = 'postgres'
dirname = os.path.dirname(__file__)
filename = os.path.join(dirname, f'kada_{_type}_extractor_config.json')

parser = argparse.ArgumentParser(description='KADA Postgres Extractor.')
parser.add_argument('--config', '-c', dest='config', default=filename, help='Location of the configuration json, default is the config json in the same directory as the script.')
parser.add_argument('--name', '-n', dest='name', default=_type, help='Name of the collector instance.')
args = parser.parse_args()

start_hwm, end_hwm = get_hwm(args.name)

ext = Extractor(**load_config(args.config))
ext.test_connection()
# On AWS RDS, where the roles catalog is restricted, switch the roles extract off:
# ext.overwrite_sql('ROLES_SQL', """SELECT DISTINCT 'USER' AS "OBJECT_TYPE", '' AS "OBJECT_ID", '' AS "USER", '' AS "ROLE" where 1 = 2""")
ext.run(**{"start_hwm": start_hwm, "end_hwm": end_hwm})

publish_hwm(args.name, end_hwm)
